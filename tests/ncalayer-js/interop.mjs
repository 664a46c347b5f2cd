// Drives the npm package `ncalayer-js-client` (the client Kazakh web apps use) against
// `eds-gateway ncalayer-sim`. Usage: node interop.mjs WS_URL OUT_DIR
// Writes OUT_DIR/data.bin (the signed bytes), basics.pem (basicsSignCMS, detached),
// basics_attached.pem (basicsSignCMS, attached) and common.b64 (createCMSSignatureFromBase64,
// detached), and prints one JSON line with what the client returned. Any failure exits non-zero.
// Run by tests/it/ncalayer_sim.rs, which then checks the files with `eds-gateway verify cms`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { NCALayerClient } = require('ncalayer-js-client');
const pkg = require('ncalayer-js-client/package.json');

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: node interop.mjs WS_URL OUT_DIR');
  process.exit(2);
}

const data = Buffer.from(`eds-gateway login nonce ${Date.now()}`, 'utf8');
const dataB64 = data.toString('base64');
writeFileSync(join(outDir, 'data.bin'), data);

// allowKmdHttpApi=false: never sign through KAZTOKEN's HTTP API (connect() still probes
// https://127.0.0.1:24680/ for a second and ignores the failure).
const client = new NCALayerClient(url, false);
const version = await client.connect();

const basics = await client.basicsSignCMS(
  NCALayerClient.basicsStorageAll,
  dataB64,
  NCALayerClient.basicsCMSParamsDetached,
  NCALayerClient.basicsSignerTestAny,
);
if (typeof basics !== 'string' || !basics.startsWith('-----BEGIN CMS-----')) {
  throw new Error(`basicsSignCMS returned ${JSON.stringify(basics)}`);
}
writeFileSync(join(outDir, 'basics.pem'), basics);

const attached = await client.basicsSignCMS(
  [NCALayerClient.fileStorageType],
  dataB64,
  NCALayerClient.basicsCMSParamsAttached,
  NCALayerClient.basicsSignerAny,
);
writeFileSync(join(outDir, 'basics_attached.pem'), attached);

const common = await client.createCMSSignatureFromBase64(
  NCALayerClient.fileStorageType,
  dataB64,
  'SIGNATURE',
  false,
);
if (typeof common !== 'string' || common.length === 0) {
  throw new Error(`createCMSSignatureFromBase64 returned ${JSON.stringify(common)}`);
}
writeFileSync(join(outDir, 'common.b64'), common);

// A cancelled dialog must surface as NCALayerError with canceledByUser (signer filter that the
// key cannot satisfy: a BIN no individual key carries).
let canceledByUser = null;
try {
  await client.basicsSignCMS(
    NCALayerClient.basicsStorageAll,
    dataB64,
    NCALayerClient.basicsCMSParamsDetached,
    { extKeyUsageOids: [], bin: '000000000000', chain: [] },
  );
} catch (e) {
  canceledByUser = e.canceledByUser === true;
}

console.log(JSON.stringify({
  client: pkg.version,
  version,
  basicsLength: basics.length,
  commonLength: common.length,
  canceledByUser,
}));
process.exit(0);
