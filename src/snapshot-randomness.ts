/**
 * No random value may be drawn while the Docker image's startup snapshot is built (snapshot.ts
 * imports this module first). Whatever the heap holds then, every container started from the
 * image holds too: a session id or a key made at import time would be the same in all of them,
 * and Node keeps even randomUUID's buffer of bytes drawn ahead (two starts of one blob whose build
 * had called it once gave the same next ids, on Node 20 and 24). Math.random is reseeded at each
 * start and is left alone. While the blob is built, node:crypto's and Web Crypto's generators
 * throw, naming the one called, so the build fails. Each is wrapped rather than swapped: a module
 * may keep the function it found (padding-bytes.ts does), so the wrappers stay in the heap and,
 * once the heap is written, pass every call to the generator they wrap.
 */
import crypto from 'node:crypto';
import { startupSnapshot } from 'node:v8';

/** The generators that would leave a value in the heap: node:crypto's, and Web Crypto's. */
const GUARDED = ['randomBytes', 'randomFill', 'randomFillSync', 'randomInt', 'randomUUID', 'getRandomValues'] as const;

type Snapshot = Pick<typeof startupSnapshot, 'isBuildingSnapshot' | 'addSerializeCallback'>;
type Holder = Partial<Record<(typeof GUARDED)[number], unknown>>;

/**
 * While `snapshot` is being built, wraps each generator of `holders` in one that throws until the
 * heap is about to be written, and calls the generator from then on. Does nothing otherwise.
 */
export function refuseRandomnessWhileBuilding(snapshot: Snapshot = startupSnapshot, holders: readonly object[] = defaultHolders()): void {
  if (!snapshot.isBuildingSnapshot()) return;
  let building = true;
  snapshot.addSerializeCallback(() => {
    building = false;
  });
  for (const holder of holders as Holder[]) {
    for (const name of GUARDED) {
      const generator = holder[name];
      if (typeof generator !== 'function') continue;
      // Web Crypto's are on its prototype: an own property shadows them. node:crypto's
      // getRandomValues is a fixed getter, which calls Web Crypto's, wrapped here too.
      if (Object.getOwnPropertyDescriptor(holder, name)?.configurable === false) continue;
      const wrapped = function (this: unknown, ...args: unknown[]): unknown {
        if (building)
          throw new Error(`${name}() was called while the startup snapshot was built: the value would be the same in every start`);
        return Reflect.apply(generator, this, args);
      };
      Object.defineProperty(wrapped, 'name', { value: name });
      Object.defineProperty(holder, name, { configurable: true, writable: true, enumerable: true, value: wrapped });
    }
  }
}

/** node:crypto and Web Crypto (crypto.webcrypto is globalThis.crypto: each object once). */
function defaultHolders(): object[] {
  const holders: unknown[] = [crypto, crypto.webcrypto, globalThis.crypto];
  return [...new Set(holders)].filter((h): h is object => typeof h === 'object' && h !== null);
}

refuseRandomnessWhileBuilding();
