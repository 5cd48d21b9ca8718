/**
 * `npm run build`: compiles each program into one ES module under dist/, at the place its source has
 * (apps/gateway/main.ts → dist/apps/gateway/main.js), so production runs plain `node` and no TypeScript
 * loader: through tsx, every process took twice the CPU and ~50 MiB more to start (BENCHMARKS.md, "Start-up").
 * Our own modules are bundled (with a source map beside each program); packages are not — they are
 * imported from node_modules at run time, so the image installs the production dependencies beside dist/.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinModules } from 'node:module';
import { build as esbuild, type Metafile, type Plugin } from 'esbuild';
import { compiledPath, DIST, PROGRAMS } from './programs.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Folders a module reads beside itself at run time (`new URL('./assets/…', import.meta.url)`): copied to the same place under dist/. */
export const FILES_BESIDE = ['apps/console/assets'] as const;

const posix = (path: string) => path.split(sep).join('/');

/**
 * In a bundle, `import.meta.url` is the bundle's URL, not the module's: a module that finds files beside
 * itself would look next to the program instead. This gives each of our modules that uses it the URL its
 * own file has in dist/ (the tree mirrors the sources), where FILES_BESIDE puts those files.
 */
function ownImportMetaUrl(outdir: string, program: string): Plugin {
  const programDir = dirname(compiledPath(program, outdir));
  return {
    name: 'own-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.tsx?$/ }, async ({ path }) => {
        const text = await readFile(path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const own = posix(relative(programDir, compiledPath(relative(ROOT, path), outdir)));
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`), loader: extname(path) === '.tsx' ? 'tsx' : 'ts' };
      });
    },
  };
}

/** Writes a file whole or not at all (a rename), so a program started while another build runs never reads half of one. */
async function writeWhole(path: string, contents: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  await writeFile(partial, contents);
  await rename(partial, path);
}

/** Copies a folder's files (its tests stay behind). */
async function copyFolder(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) await copyFolder(source, join(to, entry.name));
    else if (!entry.name.endsWith('.test.ts')) await writeWhole(join(to, entry.name), await readFile(source));
  }
}

/** The package a bare import names (`hono/jsx/jsx-runtime` → `hono`, `@scope/pkg/x` → `@scope/pkg`); undefined for Node's own modules. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export interface BuildResult {
  /** The compiled programs, absolute paths. */
  programs: string[];
  /** Every package the programs import at run time (statically or on demand), sorted. */
  packages: string[];
}

/**
 * Builds every program into `outdir` (default dist/): one bundle each (ESM for Node 20, source map
 * beside it), packages left to node_modules, then FILES_BESIDE. Existing files are replaced whole.
 */
export async function build(outdir = join(ROOT, DIST)): Promise<BuildResult> {
  const metafiles: Metafile[] = [];
  await Promise.all(
    PROGRAMS.map(async (program) => {
      const result = await esbuild({
        absWorkingDir: ROOT,
        entryPoints: [program],
        outfile: compiledPath(program, outdir),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        // Imported from node_modules at run time: the image installs them (npm ci --omit=dev).
        packages: 'external',
        sourcemap: true,
        // JSX (the console's pages) as tsconfig.json says: hono/jsx's automatic runtime.
        tsconfig: join(ROOT, 'tsconfig.json'),
        plugins: [ownImportMetaUrl(outdir, program)],
        metafile: true,
        write: false,
        logLevel: 'warning',
      });
      for (const file of result.outputFiles) await writeWhole(file.path, file.contents);
      metafiles.push(result.metafile);
    }),
  );
  for (const folder of FILES_BESIDE) await copyFolder(join(ROOT, folder), join(outdir, folder));
  const packages = new Set<string>();
  for (const meta of metafiles) for (const output of Object.values(meta.outputs)) for (const i of output.imports) if (i.external) packages.add(packageOf(i.path) ?? '');
  packages.delete('');
  return { programs: PROGRAMS.map((p) => compiledPath(p, outdir)), packages: [...packages].sort() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const { programs } = await build();
  // On stderr: `npm run -s reconcile -- --json` builds first, and its stdout must stay the command's own.
  process.stderr.write(`built ${programs.map((p) => posix(relative(ROOT, p))).join(', ')} in ${Math.round(performance.now() - started)} ms\n`);
}
