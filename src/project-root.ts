import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder: migrations, `.temporal/`, `.data/` and the scripts live under it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
