/** Where the package's data files are found, in a checkout and installed alike. */
import { existsSync } from 'node:fs';

/** The package root: the nearest folder up (at most three levels) holding package.json, from src/ or dist/. */
export function codeRoot(): URL {
  let dir = new URL('./', import.meta.url);
  for (let up = 0; up <= 3; up++, dir = new URL('../', dir)) {
    if (existsSync(new URL('package.json', dir))) return dir;
  }
  return new URL('../../', import.meta.url);
}
