//! Elliptic-curve arithmetic for GOST 34.10-2015 / GOST 34.310-2004 and the parameter sets NCA
//! uses, over the field elements of [`super::field`] (dedicated pseudo-Mersenne arithmetic for
//! NCA's primes, `crypto-bigint` Montgomery arithmetic for any other p) and `crypto-bigint`
//! Montgomery arithmetic modulo q.
//!
//! * Secrets (signing, key generation): homogeneous projective coordinates and the complete
//!   formulas of Renes–Costello–Batina 2016 (Algorithm 1, arbitrary `a`) in a double-and-add-
//!   always ladder with constant-time selects: one code path for every input and every bit.
//!   The field inversion of the result is a Fermat inversion (`x^(p−2)`), constant time.
//! * Public data (verification, variable time): Jacobian coordinates with the fast incomplete
//!   formulas (doubling specialised for a = −3: tc26-512-A and CryptoPro-A; the generic one for
//!   tc26-256-A) and explicit branches for their exceptional cases; z1·G from a fixed-base table
//!   of signed 5-bit windows (built once per curve, additions only), z2·Q by a width-5 wNAF;
//!   e⁻¹ mod q by the binary extended Euclidean algorithm; and no field inversion at the end
//!   (x_C mod q = r is checked as X = (r + k·q)·Z²).
//! * Signing and verification follow GOST 34.10-2015 §6.1 and §6.2 (= GOST R 34.10-2012,
//!   RFC 7091 §6.1/§6.2) on integers; byte encodings live in `super` (NCA's little-endian layout).

use std::marker::PhantomData;
use std::sync::OnceLock;

use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams};
use crypto_bigint::subtle::{Choice, ConditionallySelectable};
use crypto_bigint::{Limb, U256, U512, Uint, impl_modulus};
use zeroize::Zeroize;

/// Limbs of a 512-bit integer on this target.
pub(crate) const L512: usize = U512::LIMBS;
/// Limbs of a 256-bit integer on this target.
pub(crate) const L256: usize = U256::LIMBS;

use super::field::Fe;

/// Scalar modulo `q` in Montgomery form.
type Sc<Q, const L: usize> = ConstMontyForm<Q, L>;

impl_modulus!(
    P512A,
    U512,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7",
    "p of tc26-512-A (RFC 7836 §A.1)."
);
impl_modulus!(
    Q512A,
    U512,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275",
    "q of tc26-512-A (RFC 7836 §A.1)."
);
impl_modulus!(
    P256,
    U256,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97",
    "p = 2^256 − 617, shared by tc26-256-A and CryptoPro-A."
);
impl_modulus!(
    Q256A,
    U256,
    "400000000000000000000000000000000FD8CDDFC87B6635C115AF556C360C67",
    "q of tc26-256-A (RFC 7836 §A.2)."
);
impl_modulus!(
    QCryptoProA,
    U256,
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF6C611070995AD10045841B09B761B893",
    "q of CryptoPro-A (RFC 4357 §11.4)."
);

/// tc26-512-A, ready for arithmetic.
pub(crate) type Curve512A = Curve<P512A, Q512A, L512>;
/// tc26-256-A, ready for arithmetic.
pub(crate) type Curve256A = Curve<P256, Q256A, L256>;
/// CryptoPro-A, ready for arithmetic.
pub(crate) type CurveCryptoProA = Curve<P256, QCryptoProA, L256>;

/// Constants of one short-Weierstrass curve `y² = x³ + a·x + b` over GF(p) with a base point of
/// prime order `q` (p and q are the moduli types of [`Curve`]) (GOST 34.10-2015 §5.2, RFC 7091 §3.2 notation).
pub(crate) struct CurveConstants<const L: usize> {
    /// Human name (RFC 7836 / RFC 4357 identifier).
    pub name: &'static str,
    /// Coefficient `a` (< p).
    pub a: Uint<L>,
    /// Coefficient `b` (< p).
    pub b: Uint<L>,
    /// Base point x.
    pub x: Uint<L>,
    /// Base point y.
    pub y: Uint<L>,
}

/// id-tc26-gost-3410-12-512-paramSetA (RFC 7836 §A.1; NCA 1.2.398.3.10.1.1.2.2.1).
pub(crate) const TC26_512_A: CurveConstants<L512> = CurveConstants {
    name: "id-tc26-gost-3410-12-512-paramSetA",
    a: U512::from_be_hex(concat!(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC4"
    )),
    b: U512::from_be_hex(concat!(
        "E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B6265",
        "EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760"
    )),
    x: U512::from_u8(3),
    y: U512::from_be_hex(concat!(
        "7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921",
        "DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4"
    )),
};

/// id-tc26-gost-3410-2012-256-paramSetA (RFC 7836 §A.2, Weierstrass form; cofactor 4;
/// NCA 1.2.398.3.10.1.1.2.1.1).
pub(crate) const TC26_256_A: CurveConstants<L256> = CurveConstants {
    name: "id-tc26-gost-3410-2012-256-paramSetA",
    a: U256::from_be_hex("C2173F1513981673AF4892C23035A27CE25E2013BF95AA33B22C656F277E7335"),
    b: U256::from_be_hex("295F9BAE7428ED9CCC20E7C359A9D41A22FCCD9108E17BF7BA9337A6F8AE9513"),
    x: U256::from_be_hex("91E38443A5E82C0D880923425712B2BB658B9196932E02C78B2582FE742DAA28"),
    y: U256::from_be_hex("32879423AB1A0375895786C4BB46E9565FDE0B5344766740AF268ADB32322E5C"),
};

/// id-GostR3410-2001-CryptoPro-A-ParamSet (RFC 4357 §11.4; NCA 1.2.398.3.10.1.1.1.1.1 for
/// GOST 34.310-2004).
pub(crate) const CRYPTOPRO_A: CurveConstants<L256> = CurveConstants {
    name: "id-GostR3410-2001-CryptoPro-A-ParamSet",
    a: U256::from_be_hex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD94"),
    b: U256::from_u8(0xA6),
    x: U256::from_u8(1),
    y: U256::from_be_hex("8D91E471E0989CDA27DF505A453F2B7635294F2DDF23E3B122ACC99C9E9F1E14"),
};

/// A point in homogeneous projective coordinates (X:Y:Z), affine (X/Z, Y/Z); identity = (0:1:0).
#[derive(Clone, Copy)]
pub(crate) struct Point<P: ConstMontyParams<L>, const L: usize> {
    x: Fe<P, L>,
    y: Fe<P, L>,
    z: Fe<P, L>,
}

impl<P: ConstMontyParams<L>, const L: usize> ConditionallySelectable for Point<P, L> {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Point {
            x: Fe::conditional_select(&a.x, &b.x, choice),
            y: Fe::conditional_select(&a.y, &b.y, choice),
            z: Fe::conditional_select(&a.z, &b.z, choice),
        }
    }
}

/// A curve ready for arithmetic (Montgomery parameters precomputed).
pub(crate) struct Curve<P: ConstMontyParams<L>, Q, const L: usize> {
    _q: PhantomData<Q>,
    a: Fe<P, L>,
    /// `a = −3` (tc26-512-A, CryptoPro-A): `a·t` is then `−(t + t + t)`, three additions
    /// instead of a multiplication. Public curve data, so the branch leaks nothing.
    a_is_minus_3: bool,
    b: Fe<P, L>,
    b3: Fe<P, L>,
    g: Point<P, L>,
    /// Fixed-base table for verification (built on first use): for window i and j = 1..=2^(W−1),
    /// the affine point j·2^(W·i)·G at index `i·2^(W−1) + j − 1`.
    g_table: OnceLock<Vec<Affine<P, L>>>,
}

/// Width of the signed fixed-base windows over G (verification): 2^(W−1) points per window.
const G_WINDOW: u32 = 5;
/// Width of the wNAF of the public-key scalar (verification): 2^(W−2) odd multiples.
const Q_WNAF: u32 = 5;

/// An affine point (x, y) (verification tables; never the identity).
#[derive(Clone, Copy)]
struct Affine<P, const L: usize> {
    x: Fe<P, L>,
    y: Fe<P, L>,
}

/// A point in Jacobian coordinates (X:Y:Z) = (X/Z², Y/Z³); Z = 0 is the identity. Used only by
/// the variable-time verifier: the formulas are the fast incomplete ones, with the exceptional
/// cases (identity, P = ±Q) handled by explicit, data-dependent branches.
#[derive(Clone, Copy)]
struct Jacobian<P, const L: usize> {
    x: Fe<P, L>,
    y: Fe<P, L>,
    z: Fe<P, L>,
}

impl<P: ConstMontyParams<L>, Q: ConstMontyParams<L>, const L: usize> Curve<P, Q, L> {
    /// Prepares the curve (coefficients and base point in Montgomery form).
    pub(crate) fn new(c: &CurveConstants<L>) -> Self {
        let a = Fe::new(&c.a);
        let a_is_minus_3 = c.a == P::MODULUS.get().wrapping_sub(&Uint::from_u8(3));
        let b = Fe::new(&c.b);
        let b3 = b.add(&b).add(&b);
        let g = Point {
            x: Fe::new(&c.x),
            y: Fe::new(&c.y),
            z: Fe::ONE,
        };
        Curve {
            _q: PhantomData,
            a,
            a_is_minus_3,
            b,
            b3,
            g,
            g_table: OnceLock::new(),
        }
    }

    /// The subgroup order `q`.
    pub(crate) fn order(&self) -> Uint<L> {
        Q::MODULUS.get()
    }

    fn identity(&self) -> Point<P, L> {
        Point {
            x: Fe::ZERO,
            y: Fe::ONE,
            z: Fe::ZERO,
        }
    }

    /// `a·t`.
    fn mul_a(&self, t: &Fe<P, L>) -> Fe<P, L> {
        if self.a_is_minus_3 {
            t.add(t).add(t).neg()
        } else {
            self.a.mul(t)
        }
    }

    /// Complete addition, Renes–Costello–Batina 2016, Algorithm 1 (12M + 3·m_a + 2·m_3b).
    /// Valid for every pair of points of the prime-order subgroup, including P + P and the
    /// identity, so doubling is `add(P, P)`.
    fn add(&self, p1: &Point<P, L>, p2: &Point<P, L>) -> Point<P, L> {
        let (x1, y1, z1) = (&p1.x, &p1.y, &p1.z);
        let (x2, y2, z2) = (&p2.x, &p2.y, &p2.z);
        let b3 = &self.b3;
        let mut t0 = x1.mul(x2);
        let mut t1 = y1.mul(y2);
        let mut t2 = z1.mul(z2);
        let mut t3 = x1.add(y1);
        let mut t4 = x2.add(y2);
        t3 = t3.mul(&t4);
        t4 = t0.add(&t1);
        t3 = t3.sub(&t4);
        t4 = x1.add(z1);
        let mut t5 = x2.add(z2);
        t4 = t4.mul(&t5);
        t5 = t0.add(&t2);
        t4 = t4.sub(&t5);
        t5 = y1.add(z1);
        let mut x3 = y2.add(z2);
        t5 = t5.mul(&x3);
        x3 = t1.add(&t2);
        t5 = t5.sub(&x3);
        let mut z3 = self.mul_a(&t4);
        x3 = b3.mul(&t2);
        z3 = x3.add(&z3);
        x3 = t1.sub(&z3);
        z3 = t1.add(&z3);
        let mut y3 = x3.mul(&z3);
        t1 = t0.add(&t0);
        t1 = t1.add(&t0);
        t2 = self.mul_a(&t2);
        t4 = b3.mul(&t4);
        t1 = t1.add(&t2);
        t2 = t0.sub(&t2);
        t2 = self.mul_a(&t2);
        t4 = t4.add(&t2);
        t0 = t1.mul(&t4);
        y3 = y3.add(&t0);
        t0 = t5.mul(&t4);
        x3 = t3.mul(&x3);
        x3 = x3.sub(&t0);
        t0 = t3.mul(&t1);
        z3 = t5.mul(&z3);
        z3 = z3.add(&t0);
        Point {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `k·P` in constant time for a secret `k`: a double-and-add-always ladder over all
    /// `Uint::BITS` bits with a constant-time select; the complete formulas have no branches.
    fn mul_ct(&self, k: &Uint<L>, base: &Point<P, L>) -> Point<P, L> {
        let mut acc = self.identity();
        for i in (0..Uint::<L>::BITS).rev() {
            acc = self.add(&acc, &acc);
            let with = self.add(&acc, base);
            acc = Point::conditional_select(&acc, &with, Choice::from(k.bit(i)));
        }
        acc
    }

    /// Affine coordinates, `None` for the identity.
    fn to_affine(&self, pt: &Point<P, L>) -> Option<(Uint<L>, Uint<L>)> {
        let z = pt.z.retrieve();
        if z == Uint::ZERO {
            return None;
        }
        let zinv = self.inv_p(&pt.z);
        Some((pt.x.mul(&zinv).retrieve(), pt.y.mul(&zinv).retrieve()))
    }

    /// Fermat inversion in GF(p) (the input is non-zero).
    fn inv_p(&self, x: &Fe<P, L>) -> Fe<P, L> {
        x.invert()
    }

    /// `a⁻¹ mod q` for a public `0 < a < q`, variable time: the binary extended Euclidean
    /// algorithm (Hankerson–Menezes–Vanstone, Guide to ECC, Algorithm 2.22).
    fn inv_q_vartime(&self, a: &Uint<L>) -> Uint<L> {
        let q = Q::MODULUS.get();
        let top = Uint::<L>::ONE.shl_vartime(Uint::<L>::BITS - 1);
        // x/2 mod q: x even → x >> 1, else (x + q) >> 1 with the carry as the top bit.
        let half = |x: Uint<L>| {
            if x.bit_vartime(0) {
                let (sum, carry) = x.adc(&q, Limb::ZERO);
                let h = sum.shr_vartime(1);
                if carry == Limb::ZERO { h } else { h | top }
            } else {
                x.shr_vartime(1)
            }
        };
        let (mut u, mut v) = (*a, q);
        let (mut x1, mut x2) = (Uint::<L>::ONE, Uint::<L>::ZERO);
        while u != Uint::ONE && v != Uint::ONE {
            if u == Uint::ZERO {
                break; // a ≡ 0: not invertible (callers exclude it)
            }
            while !u.bit_vartime(0) {
                u = u.shr_vartime(1);
                x1 = half(x1);
            }
            while !v.bit_vartime(0) {
                v = v.shr_vartime(1);
                x2 = half(x2);
            }
            if u >= v {
                u = u.wrapping_sub(&v);
                x1 = x1.sub_mod(&x2, &q);
            } else {
                v = v.wrapping_sub(&u);
                x2 = x2.sub_mod(&x1, &q);
            }
        }
        if u == Uint::ONE { x1 } else { x2 }
    }

    fn jac_identity() -> Jacobian<P, L> {
        Jacobian {
            x: Fe::ONE,
            y: Fe::ONE,
            z: Fe::ZERO,
        }
    }

    /// `2P` in Jacobian coordinates: dbl-2001-b (3M + 5S) for a = −3, else dbl-2007-bl
    /// (1M + 8S + 1·a) (Explicit-Formulas Database). A point with y = 0 doubles to Z = 0.
    fn jac_double(&self, p: &Jacobian<P, L>) -> Jacobian<P, L> {
        if p.z.is_zero() {
            return *p;
        }
        if self.a_is_minus_3 {
            let delta = p.z.square();
            let gamma = p.y.square();
            let beta = p.x.mul(&gamma);
            let t = p.x.sub(&delta).mul(&p.x.add(&delta));
            let alpha = t.double().add(&t);
            let beta4 = beta.double().double();
            let x = alpha.square().sub(&beta4.double());
            let z = p.y.add(&p.z).square().sub(&gamma).sub(&delta);
            let gamma8 = gamma.square().double().double().double();
            let y = alpha.mul(&beta4.sub(&x)).sub(&gamma8);
            Jacobian { x, y, z }
        } else {
            let xx = p.x.square();
            let yy = p.y.square();
            let yyyy = yy.square();
            let zz = p.z.square();
            let s = p.x.add(&yy).square().sub(&xx).sub(&yyyy).double();
            let m = xx.double().add(&xx).add(&self.a.mul(&zz.square()));
            let x = m.square().sub(&s.double());
            let y = m.mul(&s.sub(&x)).sub(&yyyy.double().double().double());
            let z = p.y.add(&p.z).square().sub(&yy).sub(&zz);
            Jacobian { x, y, z }
        }
    }

    /// `P + Q` for an affine Q: madd-2007-bl (7M + 4S), exceptional cases by branching.
    fn jac_add_affine(&self, p: &Jacobian<P, L>, q: &Affine<P, L>) -> Jacobian<P, L> {
        if p.z.is_zero() {
            return Jacobian {
                x: q.x,
                y: q.y,
                z: Fe::ONE,
            };
        }
        let z1z1 = p.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&p.z).mul(&z1z1);
        let h = u2.sub(&p.x);
        let rr = s2.sub(&p.y);
        if h.is_zero() {
            return if rr.is_zero() {
                self.jac_double(p)
            } else {
                Self::jac_identity()
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let r = rr.double();
        let v = p.x.mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        let y = r.mul(&v.sub(&x)).sub(&p.y.mul(&j).double());
        let z = p.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian { x, y, z }
    }

    /// `P + Q`: add-2007-bl (11M + 5S), exceptional cases by branching.
    fn jac_add(&self, p: &Jacobian<P, L>, q: &Jacobian<P, L>) -> Jacobian<P, L> {
        if p.z.is_zero() {
            return *q;
        }
        if q.z.is_zero() {
            return *p;
        }
        let z1z1 = p.z.square();
        let z2z2 = q.z.square();
        let u1 = p.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = p.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&p.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let rr = s2.sub(&s1);
        if h.is_zero() {
            return if rr.is_zero() {
                self.jac_double(p)
            } else {
                Self::jac_identity()
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let r = rr.double();
        let v = u1.mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        let y = r.mul(&v.sub(&x)).sub(&s1.mul(&j).double());
        let z = p.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian { x, y, z }
    }

    /// Affine forms of non-identity Jacobian points with one inversion (Montgomery's trick).
    fn batch_to_affine(points: &[Jacobian<P, L>]) -> Vec<Affine<P, L>> {
        let mut prefix = Vec::with_capacity(points.len());
        let mut acc = Fe::ONE;
        for p in points {
            prefix.push(acc);
            acc = acc.mul(&p.z);
        }
        let mut inv = acc.invert();
        let mut out = vec![
            Affine {
                x: Fe::ZERO,
                y: Fe::ZERO
            };
            points.len()
        ];
        for (i, p) in points.iter().enumerate().rev() {
            let zinv = inv.mul(&prefix[i]);
            inv = inv.mul(&p.z);
            let zinv2 = zinv.square();
            out[i] = Affine {
                x: p.x.mul(&zinv2),
                y: p.y.mul(&zinv2).mul(&zinv),
            };
        }
        out
    }

    /// Number of signed windows covering a scalar of `Uint::BITS` bits plus the final carry.
    fn g_windows() -> usize {
        Uint::<L>::BITS.div_ceil(G_WINDOW) as usize + 1
    }

    /// The fixed-base table of G (see [`Curve::g_table`]), computed once.
    fn g_table(&self) -> &[Affine<P, L>] {
        self.g_table.get_or_init(|| {
            let per = 1usize << (G_WINDOW - 1);
            let mut pts = Vec::with_capacity(Self::g_windows() * per);
            let mut base = Jacobian {
                x: self.g.x,
                y: self.g.y,
                z: self.g.z,
            };
            for _ in 0..Self::g_windows() {
                let mut m = base;
                pts.push(m);
                for _ in 1..per {
                    m = self.jac_add(&m, &base);
                    pts.push(m);
                }
                // 2^W·base = 2·(2^(W−1)·base).
                base = self.jac_double(&m);
            }
            // j·2^(W·i)·G is never the identity: q is a prime above 2^(W−1) and odd.
            Self::batch_to_affine(&pts)
        })
    }

    /// Signed fixed-window digits of `k` (LSB first): k = Σ dᵢ·2^(W·i), dᵢ ∈ [−2^(W−1)+1, 2^(W−1)].
    fn signed_windows(k: &Uint<L>) -> Vec<i32> {
        let w = G_WINDOW;
        let mut out = Vec::with_capacity(Self::g_windows());
        let mut carry = 0i32;
        for i in 0..Self::g_windows() as u32 {
            let mut v = carry;
            for j in 0..w {
                let bit = w * i + j;
                if bit < Uint::<L>::BITS && k.bit_vartime(bit) {
                    v += 1 << j;
                }
            }
            if v > 1 << (w - 1) {
                out.push(v - (1 << w));
                carry = 1;
            } else {
                out.push(v);
                carry = 0;
            }
        }
        out
    }

    /// Width-`Q_WNAF` non-adjacent form of `k` (LSB first; odd digits in ±(2^(W−1) − 1)).
    fn wnaf(k: &Uint<L>) -> Vec<i32> {
        let w = Q_WNAF;
        // The scalar as u64 words (whatever the target's limb size; BITS is a multiple of 64).
        let mut words: Vec<u64> = (0..Uint::<L>::BITS.div_ceil(64))
            .map(|i| {
                (0..64).fold(0u64, |acc, j| {
                    acc | (u64::from(k.bit_vartime(64 * i + j)) << j)
                })
            })
            .collect();
        words.push(0);
        let mut out = Vec::with_capacity(Uint::<L>::BITS as usize + 1);
        while words.iter().any(|x| *x != 0) {
            let mut d = 0i32;
            if words[0] & 1 == 1 {
                let m = (words[0] & ((1 << w) - 1)) as i32;
                d = if m >= 1 << (w - 1) { m - (1 << w) } else { m };
                if d > 0 {
                    // k −= d (no borrow past the words: k ≥ d).
                    let mut borrow = d as u64;
                    for x in words.iter_mut() {
                        let (t, b) = x.overflowing_sub(borrow);
                        *x = t;
                        borrow = u64::from(b);
                    }
                } else {
                    let mut carry = (-d) as u64;
                    for x in words.iter_mut() {
                        let (t, c) = x.overflowing_add(carry);
                        *x = t;
                        carry = u64::from(c);
                    }
                }
            }
            out.push(d);
            for i in 0..words.len() {
                let next = words.get(i + 1).copied().unwrap_or(0);
                words[i] = (words[i] >> 1) | (next << 63);
            }
        }
        out
    }

    /// `a·G + b·Q` (Jacobian), variable time: b·Q by width-5 wNAF over 8 odd multiples of Q,
    /// a·G by signed fixed windows over the precomputed table (additions only).
    fn mul2_g_vartime(&self, a: &Uint<L>, b: &Uint<L>, q: &Affine<P, L>) -> Jacobian<P, L> {
        let qj = Jacobian {
            x: q.x,
            y: q.y,
            z: Fe::ONE,
        };
        let q2 = self.jac_double(&qj);
        let mut odd = Vec::with_capacity(1 << (Q_WNAF - 2));
        odd.push(qj);
        for i in 1..1usize << (Q_WNAF - 2) {
            odd.push(self.jac_add(&odd[i - 1], &q2));
        }
        let neg = |p: &Jacobian<P, L>| Jacobian {
            x: p.x,
            y: p.y.neg(),
            z: p.z,
        };
        let mut acc = Self::jac_identity();
        for &d in Self::wnaf(b).iter().rev() {
            acc = self.jac_double(&acc);
            if d > 0 {
                acc = self.jac_add(&acc, &odd[(d / 2) as usize]);
            } else if d < 0 {
                acc = self.jac_add(&acc, &neg(&odd[(-d / 2) as usize]));
            }
        }
        let table = self.g_table();
        let per = 1usize << (G_WINDOW - 1);
        for (i, &d) in Self::signed_windows(a).iter().enumerate() {
            if d > 0 {
                acc = self.jac_add_affine(&acc, &table[i * per + d as usize - 1]);
            } else if d < 0 {
                let t = &table[i * per + (-d) as usize - 1];
                acc = self.jac_add_affine(
                    &acc,
                    &Affine {
                        x: t.x,
                        y: t.y.neg(),
                    },
                );
            }
        }
        acc
    }

    /// A public point from affine coordinates, checked: both coordinates < p and
    /// y² = x³ + a·x + b (GOST 34.10-2015 §5.2). The identity has no affine form, so it can never
    /// be accepted here.
    pub(crate) fn point(&self, x: &Uint<L>, y: &Uint<L>) -> Option<Point<P, L>> {
        let p = P::MODULUS.get();
        if x >= &p || y >= &p {
            return None;
        }
        let xm = Fe::new(x);
        let ym = Fe::new(y);
        let lhs = ym.square();
        let rhs = xm.square().mul(&xm).add(&self.a.mul(&xm)).add(&self.b);
        if lhs.retrieve() != rhs.retrieve() {
            return None;
        }
        Some(Point {
            x: xm,
            y: ym,
            z: Fe::ONE,
        })
    }

    /// `e = h mod q`, and 1 when that is 0 (GOST 34.10-2015 §6.1 step 2, §6.2 step 3).
    pub(crate) fn reduce_e(&self, h: &Uint<L>) -> Uint<L> {
        let e = h.rem_vartime(Q::MODULUS.as_nz_ref());
        if e == Uint::ZERO { Uint::ONE } else { e }
    }

    /// True when `0 < v < q`.
    pub(crate) fn is_scalar(&self, v: &Uint<L>) -> bool {
        v != &Uint::ZERO && v < &Q::MODULUS.get()
    }

    /// Verification, GOST 34.10-2015 §6.2 steps 3–6 on integers (the caller checked
    /// `0 < r, s < q` and the key with [`Curve::point`]). `e` is already reduced.
    pub(crate) fn verify(
        &self,
        pubkey: &Point<P, L>,
        e: &Uint<L>,
        r: &Uint<L>,
        s: &Uint<L>,
    ) -> bool {
        // §6.2 step 4: v = e⁻¹ mod q.
        let v = Sc::<Q, L>::new(&self.inv_q_vartime(e));
        // §6.2 step 5: z1 = s·v, z2 = −r·v (mod q).
        let z1 = Sc::new(s).mul(&v).retrieve();
        let z2 = Sc::new(r).mul(&v).neg().retrieve();
        // §6.2 step 6: C = z1·P + z2·Q.
        let key = if pubkey.z.ct_eq(&Fe::ONE) {
            Affine {
                x: pubkey.x,
                y: pubkey.y,
            }
        } else {
            match self.to_affine(pubkey) {
                Some((x, y)) => Affine {
                    x: Fe::new(&x),
                    y: Fe::new(&y),
                },
                None => return false,
            }
        };
        let c = self.mul2_g_vartime(&z1, &z2, &key);
        if c.z.is_zero() {
            return false;
        }
        // R = x_C mod q = r ⇔ x_C = r + k·q for some k ≥ 0 with r + k·q < p; x_C = X/Z², so
        // compare X with (r + k·q)·Z² and skip the field inversion.
        let p = P::MODULUS.get();
        let q = Q::MODULUS.get();
        let zz = c.z.square();
        let mut cand = *r;
        while cand < p {
            if Fe::new(&cand).mul(&zz).ct_eq(&c.x) {
                return true;
            }
            let (next, carry) = cand.adc(&q, Limb::ZERO);
            if carry != Limb::ZERO {
                break;
            }
            cand = next;
        }
        false
    }

    /// Signing with a given nonce, GOST 34.10-2015 §6.1 steps 3–5 (constant time in `d` and `k`
    /// apart from the `r = 0` / `s = 0` outcome). `None` when r or s is 0 (pick another k).
    pub(crate) fn sign_with_k(
        &self,
        d: &Uint<L>,
        e: &Uint<L>,
        k: &Uint<L>,
    ) -> Option<(Uint<L>, Uint<L>)> {
        // §6.1 step 4: C = k·P, r = x_C mod q.
        let c = self.mul_ct(k, &self.g);
        let (mut cx, mut cy) = self.to_affine(&c)?;
        let r = cx.rem(Q::MODULUS.as_nz_ref());
        cx.as_words_mut().zeroize();
        cy.as_words_mut().zeroize();
        if r == Uint::ZERO {
            return None;
        }
        // §6.1 step 5: s = (r·d + k·e) mod q.
        let mut rd = Sc::<Q, L>::new(&r).mul(&Sc::new(d));
        let mut ke = Sc::<Q, L>::new(k).mul(&Sc::new(e));
        let mut sm = rd.add(&ke);
        let s = sm.retrieve();
        rd.as_montgomery_mut().as_words_mut().zeroize();
        ke.as_montgomery_mut().as_words_mut().zeroize();
        sm.as_montgomery_mut().as_words_mut().zeroize();
        if s == Uint::ZERO {
            return None;
        }
        Some((r, s))
    }

    /// Public key `Q = d·P` (GOST 34.10-2015 §6.1 key generation), constant time in `d`.
    /// `None` only for `d ≡ 0 (mod q)`.
    pub(crate) fn public_key(&self, d: &Uint<L>) -> Option<(Uint<L>, Uint<L>)> {
        self.to_affine(&self.mul_ct(d, &self.g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl_modulus!(
        PTest256,
        U256,
        "8000000000000000000000000000000000000000000000000000000000000431"
    );
    impl_modulus!(
        QTest256,
        U256,
        "8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3"
    );
    impl_modulus!(
        PTest512,
        U512,
        "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15DF1D852741AF4704A0458047E80E4546D35B8336FAC224DD81664BBF528BE6373"
    );
    impl_modulus!(
        QTest512,
        U512,
        "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15DA82F2D7ECB1DBAC719905C5EECC423F1D86E25EDBE23C595D644AAF187E6E6DF"
    );

    /// RFC 7091 §7.1 (GOST R 34.10-2012 Appendix A.1): 256-bit test curve.
    const TEST_256: CurveConstants<L256> = CurveConstants {
        name: "id-GostR3410-2001-TestParamSet",
        a: U256::from_u8(7),
        b: U256::from_be_hex("5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E"),
        x: U256::from_u8(2),
        y: U256::from_be_hex("08E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8"),
    };

    /// RFC 7091 §7.2 (GOST R 34.10-2012 Appendix A.2): 512-bit test curve.
    const TEST_512: CurveConstants<L512> = CurveConstants {
        name: "id-tc26-gost-3410-12-512-paramSetTest",
        a: U512::from_u8(7),
        b: U512::from_be_hex(concat!(
            "1CFF0806A31116DA29D8CFA54E57EB748BC5F377E49400FDD788B649ECA1AC43",
            "61834013B2AD7322480A89CA58E0CF74BC9E540C2ADD6897FAD0A3084F302ADC"
        )),
        x: U512::from_be_hex(concat!(
            "24D19CC64572EE30F396BF6EBBFD7A6C5213B3B3D7057CC825F91093A68CD762",
            "FD60611262CD838DC6B60AA7EEE804E28BC849977FAC33B4B530F1B120248A9A"
        )),
        y: U512::from_be_hex(concat!(
            "2BB312A43BD2CE6E0D020613C857ACDDCFBF061E91E5F2C3F32447C259F39B2C",
            "83AB156D77F1496BF7EB3351E1EE4E43DC1A18B91B24640B6DBB92CB1ADD371E"
        )),
    };

    #[track_caller]
    #[allow(clippy::too_many_arguments)] // the seven published values of one example
    fn check_example<P: ConstMontyParams<L>, Q: ConstMontyParams<L>, const L: usize>(
        c: &CurveConstants<L>,
        d: &str,
        qx: &str,
        qy: &str,
        e: &str,
        k: &str,
        r: &str,
        s: &str,
    ) {
        let curve = Curve::<P, Q, L>::new(c);
        let u = Uint::<L>::from_be_hex;
        let (d, e, k, r, s) = (u(d), u(e), u(k), u(r), u(s));
        let (x, y) = curve.public_key(&d).expect("public key");
        assert_eq!((x, y), (u(qx), u(qy)), "public key");
        let e = curve.reduce_e(&e);
        assert_eq!(curve.sign_with_k(&d, &e, &k), Some((r, s)), "signature");
        let q = curve.point(&x, &y).expect("on curve");
        assert!(curve.verify(&q, &e, &r, &s));
        assert!(!curve.verify(&q, &e, &r, &s.wrapping_add(&Uint::ONE)));
    }

    #[test]
    fn rfc7091_256_bit_example_signs_and_verifies() {
        check_example::<PTest256, QTest256, L256>(
            &TEST_256,
            "7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28",
            "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B",
            "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA",
            "2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5",
            "77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3",
            "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493",
            "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40",
        );
    }

    #[test]
    fn rfc7091_512_bit_example_signs_and_verifies() {
        check_example::<PTest512, QTest512, L512>(
            &TEST_512,
            concat!(
                "0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B1020",
                "72E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4"
            ),
            concat!(
                "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD",
                "5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1"
            ),
            concat!(
                "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61",
                "EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC"
            ),
            concat!(
                "3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C591",
                "7184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C"
            ),
            concat!(
                "0359E7F4B1410FEACC570456C6801496946312120B39D019D455986E364F3658",
                "86748ED7A44B3E794434006011842286212273A6D14CF70EA3AF71BB1AE679F1"
            ),
            concat!(
                "2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD3",
                "5492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36"
            ),
            concat!(
                "1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5",
                "823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A"
            ),
        );
    }

    #[test]
    fn base_points_of_named_sets_are_on_their_curves() {
        let c = Curve512A::new(&TC26_512_A);
        assert!(c.point(&TC26_512_A.x, &TC26_512_A.y).is_some());
        let c = Curve256A::new(&TC26_256_A);
        assert!(c.point(&TC26_256_A.x, &TC26_256_A.y).is_some());
        let c = CurveCryptoProA::new(&CRYPTOPRO_A);
        assert!(c.point(&CRYPTOPRO_A.x, &CRYPTOPRO_A.y).is_some());
        assert!(c.point(&CRYPTOPRO_A.x, &CRYPTOPRO_A.x).is_none());
    }

    #[test]
    fn order_times_base_point_is_the_identity() {
        let c = CurveCryptoProA::new(&CRYPTOPRO_A);
        assert_eq!(c.public_key(&c.order()), None);
        let c = Curve256A::new(&TC26_256_A);
        assert_eq!(c.public_key(&c.order()), None);
        let c = Curve512A::new(&TC26_512_A);
        assert_eq!(c.public_key(&c.order()), None);
    }

    /// Deterministic pseudo-random scalars below q (xorshift; tests only).
    fn scalars<P: ConstMontyParams<L>, Q: ConstMontyParams<L>, const L: usize>(
        c: &Curve<P, Q, L>,
        n: usize,
    ) -> Vec<Uint<L>> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let q = c.order();
        let mut out = vec![
            Uint::ZERO,
            Uint::ONE,
            Uint::from_u8(2),
            q.wrapping_sub(&Uint::ONE),
            q.wrapping_sub(&Uint::from_u8(2)),
        ];
        while out.len() < n {
            let mut v = Uint::<L>::ZERO;
            for _ in 0..Uint::<L>::BITS / 16 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v = v.shl_vartime(16).wrapping_add(&Uint::from_u16(x as u16));
            }
            out.push(v.rem_vartime(Q::MODULUS.as_nz_ref()));
        }
        out
    }

    /// The fast verifier's a·G + b·Q equals the constant-time ladder's (a + b·d)·G, including
    /// the exceptional inputs of the incomplete Jacobian formulas (Q = ±G, results at the
    /// identity, zero scalars) and the digit recodings.
    fn check_fast_paths<P: ConstMontyParams<L>, Q: ConstMontyParams<L>, const L: usize>(
        c: &Curve<P, Q, L>,
    ) {
        let q = c.order();
        let ks = scalars(c, 24);
        for k in &ks {
            let back = Curve::<P, Q, L>::signed_windows(k).iter().rev().fold(
                Sc::<Q, L>::ZERO,
                |acc, d| {
                    let mut acc = acc;
                    for _ in 0..G_WINDOW {
                        acc = acc.add(&acc);
                    }
                    let m = Sc::new(&Uint::from_u32(d.unsigned_abs()));
                    if *d < 0 { acc.sub(&m) } else { acc.add(&m) }
                },
            );
            assert_eq!(back.retrieve(), *k, "signed windows");
            let back = Curve::<P, Q, L>::wnaf(k)
                .iter()
                .rev()
                .fold(Sc::<Q, L>::ZERO, |acc, d| {
                    let acc = acc.add(&acc);
                    let m = Sc::new(&Uint::from_u32(d.unsigned_abs()));
                    if *d < 0 { acc.sub(&m) } else { acc.add(&m) }
                });
            assert_eq!(back.retrieve(), *k, "wNAF");
            if k != &Uint::ZERO {
                let inv = c.inv_q_vartime(k);
                assert_eq!(Sc::<Q, L>::new(k).mul(&Sc::new(&inv)).retrieve(), Uint::ONE);
            }
        }
        let affine = |xy: Option<(Uint<L>, Uint<L>)>| {
            xy.map(|(x, y)| Affine {
                x: Fe::<P, L>::new(&x),
                y: Fe::new(&y),
            })
        };
        let jac_affine = |j: &Jacobian<P, L>| {
            c.to_affine(&Point {
                x: j.x.mul(&j.z),
                y: j.y,
                z: j.z.square().mul(&j.z),
            })
        };
        // Keys: random d, d = 1 (Q = G) and d = q − 1 (Q = −G).
        let mut ds = vec![Uint::ONE, q.wrapping_sub(&Uint::ONE)];
        ds.extend(ks.iter().skip(5).take(3).copied());
        for d in &ds {
            let key = affine(c.public_key(d)).expect("key");
            for (i, a) in ks.iter().enumerate() {
                for b in [&ks[(i * 5 + 1) % ks.len()], a, &q.wrapping_sub(a)] {
                    let sum = Sc::<Q, L>::new(a).add(&Sc::new(b).mul(&Sc::new(d)));
                    let want = c.public_key(&sum.retrieve());
                    let got = jac_affine(&c.mul2_g_vartime(a, b, &key));
                    assert_eq!(got, want, "a·G + b·Q");
                }
            }
        }
    }

    #[test]
    fn fast_verification_paths_match_the_ladder() {
        check_fast_paths(&Curve512A::new(&TC26_512_A));
        check_fast_paths(&Curve256A::new(&TC26_256_A));
        check_fast_paths(&CurveCryptoProA::new(&CRYPTOPRO_A));
        check_fast_paths(&Curve::<PTest256, QTest256, L256>::new(&TEST_256));
    }
}
