#!/usr/bin/env node
// The `chorus` command. Chorus is TypeScript run by Node 24's type stripping; npm scripts and npx put
// the pinned Node 24 first on PATH. Refuse older Node with a message instead of a syntax error.
// This folder is its own tiny package (bin/package.json, a `file:` devDependency of the project), so
// `npm install` links it as node_modules/.bin/chorus and `npx chorus` runs that link directly. Were
// the bin declared by the project itself, npx would install the project into its cache on every
// run: a second or more, and npm's engine check warning (EBADENGINE) when npm runs on an older
// system Node, although Chorus itself runs on the pinned Node 24. The requirement stays declared
// in the project's `engines`, and this check enforces it at run time.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `chorus needs Node.js 24 or newer (this is ${process.version}). Run it through npm, which uses the ` +
      'pinned Node 24: `npx chorus ...` or `npm start`.\n',
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
