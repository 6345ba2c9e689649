/** `npm run dashboards`: writes the dashboards as JSON into dashboards/json/. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../common/paths.js';
import { DASHBOARDS, render } from './dashboards.js';

const dir = join(packageRoot(), 'dashboards', 'json');
for (const [file, build] of Object.entries(DASHBOARDS)) {
  writeFileSync(join(dir, file), render(build()));
  console.log(`wrote dashboards/json/${file}`);
}
