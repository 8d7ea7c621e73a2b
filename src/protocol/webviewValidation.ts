// Imported first by webview bundles, before any schema is built. zod compiles fast object parsers with
// `new Function`, which a webview's Content-Security-Policy (no 'unsafe-eval') forbids and reports as a
// violation; jitless parsing needs no eval. The setting is read when a schema is created, hence "first".
import * as z from 'zod';

z.config({ jitless: true });
