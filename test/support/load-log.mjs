/**
 * `node --import ./test/support/load-log.mjs …` with LOAD_LOG=FILE: appends to FILE the URL of every
 * module the process resolves through the ESM loader and of every package the main thread requires
 * by name (ssh2 and web-tree-sitter are required when first needed: src/ssh/ssh2.ts,
 * src/policy/parse.ts; what a CommonJS package requires inside it is not written), and a line `-- answered tools/list` when the answer to a
 * tools/list goes out on stdout. A module whose line comes after that one was not loaded before the
 * answer: a resolution is written down before the module is loaded, on the loader's thread, and
 * the mark before the answer is written, on the main one. Ordering, no clock.
 */
import { appendFileSync } from 'node:fs';
import process from 'node:process';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

let file = process.env.LOAD_LOG;

if (isMainThread && file) {
  register(import.meta.url, { data: { file } });
  const load = Module._load;
  Module._load = function (request, parent, ...rest) {
    if (!/^(\.|\/|node:)/.test(request) && !Module.isBuiltin(request)) {
      appendFileSync(file, `${pathToFileURL(Module._resolveFilename(request, parent)).href}\n`);
    }
    return load.call(this, request, parent, ...rest);
  };
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    if (String(chunk).includes('"tools":[')) appendFileSync(file, '-- answered tools/list\n');
    return write(chunk, ...rest);
  };
}

/** The loader thread's side: told the file by register(). */
export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
