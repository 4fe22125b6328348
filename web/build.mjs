// Bundles the two pages into OUTDIR (default dist): OUTDIR/chess for the
// chess page that arbiter bridge serves, OUTDIR/console for the operator
// console that arbiter node serves. The output is deterministic for a given
// lockfile: no timestamps, fixed esbuild version, sorted licence list.
// Fails if a bundled package is under a GPL-family licence.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';

const out = process.argv[2] || 'dist';

const pages = [
  { name: 'chess', entry: 'src/chess/main.js', bundle: 'app.js', statics: ['index.html', 'style.css'] },
  { name: 'console', entry: 'src/console/main.js', bundle: 'console.js', statics: ['index.html', 'console.css'] },
];

// licenceOf returns the package directory and licence of a bundled input
// path, or null for the project's own sources.
function packageOf(input) {
  const m = input.match(/^node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  return m ? m[1] : null;
}

for (const p of pages) {
  const dir = join(out, p.name);
  mkdirSync(dir, { recursive: true });
  const res = await esbuild.build({
    entryPoints: [p.entry],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    legalComments: 'none', // the licences go to LICENSES.txt instead
    charset: 'utf8',
    metafile: true,
    write: false,
    outfile: join(dir, p.bundle),
    logLevel: 'warning',
  });
  for (const f of res.outputFiles) writeFileSync(f.path, f.contents);
  for (const s of p.statics) copyFileSync(join('src', p.name, s), join(dir, s));

  const pkgs = [...new Set(Object.keys(res.metafile.inputs).map(packageOf).filter(Boolean))].sort();
  let text = `Third-party packages bundled into ${p.bundle}, with their licences.\n`;
  for (const name of pkgs) {
    const meta = JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8'));
    const lic = meta.license || 'UNKNOWN';
    if (/GPL/i.test(lic) || lic === 'UNKNOWN') {
      throw new Error(`${name}@${meta.version}: licence ${lic} is not allowed in the bundle`);
    }
    text += `\n==== ${name} ${meta.version} (${lic})\n\n`;
    const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt'].map((f) => join('node_modules', name, f)).find(existsSync);
    text += file ? readFileSync(file, 'utf8').trim() + '\n' : `Licensed under ${lic}.\n`;
  }
  writeFileSync(join(dir, 'LICENSES.txt'), text);
}
