#!/usr/bin/env node
// The `chorus` command. Chorus is TypeScript run by Node 24's type stripping; npm scripts and npx put
// the pinned Node 24 first on PATH. Refuse older Node with a message instead of a syntax error.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `chorus needs Node.js 24 or newer (this is ${process.version}). Run it through npm, which uses the ` +
      'pinned Node 24: `npx chorus ...` or `npm start`.\n',
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
