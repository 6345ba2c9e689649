/** The package's version and licence, from its package.json (one place, for logs, the host record, --version and the OpenAPI document). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './paths.js';

const PACKAGE = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string; license: string };

export const VERSION: string = PACKAGE.version;

/** An SPDX identifier (Apache-2.0). */
export const LICENSE: string = PACKAGE.license;
