//! Field elements of GF(p) for the GOST curves.
//!
//! Every prime NCA's parameter sets use is pseudo-Mersenne: p = 2^512 − 569 (tc26-512-A) and
//! p = 2^256 − 617 (tc26-256-A and CryptoPro-A). For such a p (p = 2^(W·L) − c with a small c,
//! detected at compile time from the modulus type) [`Fe`] keeps the canonical value in plain
//! limbs and reduces a product `H·2^n + L` as `H·c + L` (two folds and one conditional
//! subtraction). For any other p (the RFC 7091 test curves) it falls back to `crypto-bigint`'s
//! Montgomery arithmetic. The choice is a constant of the modulus type, so each instantiation
//! compiles to one path.
//!
//! All operations are constant time in the values (no branch or index depends on them), so the
//! same type serves the signing ladder; [`Fe::pow_vartime_exp`] is variable time in the
//! *exponent* only (always a public constant here).

// Limb loops index several arrays at offsets (t[i + j], w[i] with t[i]): indices mirror the math.
#![allow(clippy::needless_range_loop)]

use std::marker::PhantomData;

use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams};
use crypto_bigint::subtle::{Choice, ConditionallySelectable};
use crypto_bigint::{Uint, WideWord, Word};

const WB: u32 = Word::BITS;
/// Most limbs of a field element (512 bits in 32-bit words); sizes the product scratch space.
const MAX_LIMBS: usize = 16;

/// `c` when `p = 2^(WB·L) − c` with `0 < c < 2^(WB/2)` (and `L ≤ MAX_LIMBS`), else 0.
const fn pseudo_mersenne_c<const L: usize>(p: &Uint<L>) -> Word {
    if L > MAX_LIMBS {
        return 0;
    }
    let w = p.as_words();
    let mut i = 1;
    while i < L {
        if w[i] != Word::MAX {
            return 0;
        }
        i += 1;
    }
    let c = w[0].wrapping_neg();
    if c != 0 && c < (1 << (WB / 2)) { c } else { 0 }
}

/// All ones when `bit` is 1, zero when 0 (`bit` ∈ {0, 1}).
#[inline(always)]
fn mask(bit: Word) -> Word {
    bit.wrapping_neg()
}

/// An element of GF(p), p given by the modulus type `P`.
pub(crate) struct Fe<P, const L: usize> {
    w: [Word; L],
    _p: PhantomData<P>,
}

impl<P, const L: usize> Clone for Fe<P, L> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, const L: usize> Copy for Fe<P, L> {}

impl<P: ConstMontyParams<L>, const L: usize> ConditionallySelectable for Fe<P, L> {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        let mut w = a.w;
        for (o, bw) in w.iter_mut().zip(&b.w) {
            *o = Word::conditional_select(o, bw, choice);
        }
        Fe::from_words(w)
    }
}

impl<P: ConstMontyParams<L>, const L: usize> Fe<P, L> {
    /// `c` of `p = 2^n − c`, or 0 for the Montgomery fallback.
    const C: Word = pseudo_mersenne_c::<L>(P::MODULUS.as_ref());
    /// True on the pseudo-Mersenne path.
    const FAST: bool = Self::C != 0;

    pub(crate) const ZERO: Self = Self::from_words([0; L]);
    pub(crate) const ONE: Self = {
        if Self::FAST {
            let mut w = [0; L];
            w[0] = 1;
            Self::from_words(w)
        } else {
            Self::from_words(P::ONE.to_words())
        }
    };

    const fn from_words(w: [Word; L]) -> Self {
        Fe { w, _p: PhantomData }
    }

    fn monty(&self) -> ConstMontyForm<P, L> {
        ConstMontyForm::from_montgomery(Uint::from_words(self.w))
    }

    fn from_monty(m: &ConstMontyForm<P, L>) -> Self {
        Self::from_words(m.as_montgomery().to_words())
    }

    /// From an integer `< p`.
    pub(crate) fn new(x: &Uint<L>) -> Self {
        if Self::FAST {
            Self::from_words(x.to_words())
        } else {
            Self::from_monty(&ConstMontyForm::new(x))
        }
    }

    /// The canonical integer in `0..p`.
    pub(crate) fn retrieve(&self) -> Uint<L> {
        if Self::FAST {
            Uint::from_words(self.w)
        } else {
            self.monty().retrieve()
        }
    }

    /// True for 0 (constant time over the limbs).
    pub(crate) fn is_zero(&self) -> bool {
        self.w.iter().fold(0, |acc, w| acc | w) == 0
    }

    /// Equality of the (canonical) representations.
    pub(crate) fn ct_eq(&self, other: &Self) -> bool {
        self.w
            .iter()
            .zip(&other.w)
            .fold(0, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// `x ≥ p ⇔ x + c ≥ 2^n`: subtracts p (adds c mod 2^n) when `x + c` carries or `carry_in`
    /// is set (a value `2^n + x` with a carry out of the top limb).
    #[inline(always)]
    fn pm_final(mut w: [Word; L], carry_in: Word) -> [Word; L] {
        let c = Self::C;
        let mut t = [0; L];
        let mut carry = c as WideWord;
        for i in 0..L {
            let s = w[i] as WideWord + carry;
            t[i] = s as Word;
            carry = s >> WB;
        }
        let m = mask((carry as Word) | carry_in);
        for i in 0..L {
            w[i] = (w[i] & !m) | (t[i] & m);
        }
        w
    }

    /// `a + b`.
    pub(crate) fn add(&self, b: &Self) -> Self {
        if !Self::FAST {
            return Self::from_monty(&self.monty().add(&b.monty()));
        }
        let mut s = [0; L];
        let mut carry: WideWord = 0;
        for i in 0..L {
            let t = self.w[i] as WideWord + b.w[i] as WideWord + carry;
            s[i] = t as Word;
            carry = t >> WB;
        }
        Self::from_words(Self::pm_final(s, carry as Word))
    }

    /// `a − b`.
    pub(crate) fn sub(&self, b: &Self) -> Self {
        if !Self::FAST {
            return Self::from_monty(&self.monty().sub(&b.monty()));
        }
        let mut d = [0; L];
        let mut borrow: Word = 0;
        for i in 0..L {
            let (t, b1) = self.w[i].overflowing_sub(b.w[i]);
            let (t, b2) = t.overflowing_sub(borrow);
            d[i] = t;
            borrow = Word::from(b1 | b2);
        }
        // On a borrow d = a − b + 2^n; a − b + p = d − c, and d > c so no further borrow.
        let mut sub = Self::C & mask(borrow);
        for x in d.iter_mut() {
            let (t, b1) = x.overflowing_sub(sub);
            *x = t;
            sub = Word::from(b1);
        }
        Self::from_words(d)
    }

    /// `−a`.
    pub(crate) fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }

    /// `2a`.
    pub(crate) fn double(&self) -> Self {
        self.add(self)
    }

    /// Reduces `hi·2^n + lo` (the 2n-bit product) modulo p.
    #[inline(always)]
    fn pm_reduce(lo: &[Word; L], hi: &[Word; L]) -> [Word; L] {
        let c = Self::C as WideWord;
        let mut r = [0; L];
        let mut carry: WideWord = 0;
        for i in 0..L {
            let t = hi[i] as WideWord * c + lo[i] as WideWord + carry;
            r[i] = t as Word;
            carry = t >> WB;
        }
        // carry ≤ c: fold carry·2^n ≡ carry·c (< 2^WB since c < 2^(WB/2)).
        let mut add = (carry * c) as WideWord;
        for x in r.iter_mut() {
            let t = *x as WideWord + add;
            *x = t as Word;
            add = t >> WB;
        }
        // A carry out means r is now tiny (< carry·c); 2^n ≡ c once more, which cannot carry.
        let mut add = (Self::C & mask(add as Word)) as WideWord;
        for x in r.iter_mut() {
            let t = *x as WideWord + add;
            *x = t as Word;
            add = t >> WB;
        }
        Self::pm_final(r, 0)
    }

    /// `a·b`.
    pub(crate) fn mul(&self, b: &Self) -> Self {
        if !Self::FAST {
            return Self::from_monty(&self.monty().mul(&b.monty()));
        }
        let (a, b) = (&self.w, &b.w);
        // Operand scanning: row i adds a[i]·b into t[i..i + L + 1]. Fixed trip counts, so the
        // rows unroll into straight multiply-accumulate chains.
        let mut t = [0 as Word; 2 * MAX_LIMBS];
        for i in 0..L {
            let mut carry: WideWord = 0;
            for j in 0..L {
                let x = a[i] as WideWord * b[j] as WideWord + t[i + j] as WideWord + carry;
                t[i + j] = x as Word;
                carry = x >> WB;
            }
            t[i + L] = carry as Word;
        }
        Self::from_words(Self::pm_reduce_wide(&t))
    }

    /// `a²`.
    pub(crate) fn square(&self) -> Self {
        if !Self::FAST {
            return Self::from_monty(&self.monty().square());
        }
        let a = &self.w;
        // Cross products a[i]·a[j] (i < j) once, doubled, plus the squares a[i]².
        let mut t = [0 as Word; 2 * MAX_LIMBS];
        for i in 0..L {
            let mut carry: WideWord = 0;
            for j in i + 1..L {
                let x = a[i] as WideWord * a[j] as WideWord + t[i + j] as WideWord + carry;
                t[i + j] = x as Word;
                carry = x >> WB;
            }
            t[i + L] = carry as Word;
        }
        let mut top: Word = 0;
        for k in 0..2 * L {
            let x = t[k];
            t[k] = (x << 1) | top;
            top = x >> (WB - 1);
        }
        let mut carry: WideWord = 0;
        for i in 0..L {
            let sq = a[i] as WideWord * a[i] as WideWord;
            let x = t[2 * i] as WideWord + (sq as Word) as WideWord + carry;
            t[2 * i] = x as Word;
            let y = t[2 * i + 1] as WideWord + (sq >> WB) + (x >> WB);
            t[2 * i + 1] = y as Word;
            carry = y >> WB;
        }
        Self::from_words(Self::pm_reduce_wide(&t))
    }

    /// [`Fe::pm_reduce`] of the product held in the first 2L words of `t`.
    #[inline(always)]
    fn pm_reduce_wide(t: &[Word; 2 * MAX_LIMBS]) -> [Word; L] {
        let mut lo = [0; L];
        let mut hi = [0; L];
        lo.copy_from_slice(&t[..L]);
        hi.copy_from_slice(&t[L..2 * L]);
        Self::pm_reduce(&lo, &hi)
    }

    /// `a^e` for a public exponent `e` (fixed 4-bit windows; constant time in `a`).
    pub(crate) fn pow_vartime_exp(&self, e: &Uint<L>) -> Self {
        let mut table = [Self::ONE; 16];
        for i in 1..16 {
            table[i] = table[i - 1].mul(self);
        }
        let bits = e.bits_vartime();
        let mut acc = Self::ONE;
        for w in (0..bits.div_ceil(4)).rev() {
            for _ in 0..4 {
                acc = acc.square();
            }
            let nib = (0..4).fold(0usize, |n, j| {
                n | (usize::from(e.bit_vartime(4 * w + j)) << j)
            });
            if nib != 0 {
                acc = acc.mul(&table[nib]);
            }
        }
        acc
    }

    /// `a⁻¹` by Fermat (`a^(p−2)`), constant time in `a`; 0 for 0.
    pub(crate) fn invert(&self) -> Self {
        self.pow_vartime_exp(&P::MODULUS.get().wrapping_sub(&Uint::from_u8(2)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::{U256, U512, impl_modulus};

    impl_modulus!(
        P512,
        U512,
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7"
    );
    impl_modulus!(
        P256,
        U256,
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97"
    );

    /// A deterministic stream of awkward values: random limbs, all-ones limbs, p − small.
    fn samples<P: ConstMontyParams<L>, const L: usize>() -> Vec<Uint<L>> {
        let p = P::MODULUS.get();
        let mut out = vec![
            Uint::ZERO,
            Uint::ONE,
            p.wrapping_sub(&Uint::ONE),
            p.wrapping_sub(&Uint::from_u16(1000)),
            Uint::from_u16(1000),
        ];
        let mut x: u64 = 0x0123_4567_89AB_CDEF;
        for round in 0..200 {
            let mut w = [0 as Word; L];
            for (i, limb) in w.iter_mut().enumerate() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *limb = if (round + i) % 7 == 0 {
                    Word::MAX
                } else {
                    x as Word
                };
            }
            let v = Uint::from_words(w);
            out.push(if v >= p { v.wrapping_sub(&p) } else { v });
        }
        out
    }

    fn check<P: ConstMontyParams<L>, const L: usize>() {
        assert!(Fe::<P, L>::FAST);
        let xs = samples::<P, L>();
        for (i, x) in xs.iter().enumerate() {
            let y = &xs[(i * 7 + 3) % xs.len()];
            let (fx, fy) = (Fe::<P, L>::new(x), Fe::<P, L>::new(y));
            let (mx, my) = (
                ConstMontyForm::<P, L>::new(x),
                ConstMontyForm::<P, L>::new(y),
            );
            assert_eq!(
                fx.mul(&fy).retrieve(),
                mx.mul(&my).retrieve(),
                "mul {x} {y}"
            );
            assert_eq!(fx.square().retrieve(), mx.square().retrieve(), "square {x}");
            assert_eq!(
                fx.add(&fy).retrieve(),
                mx.add(&my).retrieve(),
                "add {x} {y}"
            );
            assert_eq!(
                fx.sub(&fy).retrieve(),
                mx.sub(&my).retrieve(),
                "sub {x} {y}"
            );
            assert_eq!(fx.neg().retrieve(), mx.neg().retrieve(), "neg {x}");
            if x != &Uint::ZERO {
                assert_eq!(fx.invert().mul(&fx).retrieve(), Uint::ONE, "inv {x}");
            }
        }
    }

    #[test]
    fn pseudo_mersenne_arithmetic_matches_montgomery() {
        check::<P512, { U512::LIMBS }>();
        check::<P256, { U256::LIMBS }>();
    }
}
