import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayError, StagingOverlay } from '../../src/core/staging/stagingOverlay';
import { hashTree } from '../helpers/hashTree';

function workspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'airlock-overlay-'));
  mkdirSync(join(ws, 'src/lib'), { recursive: true });
  writeFileSync(join(ws, 'src/a.js'), 'const a = 1; // TODO tidy\n');
  writeFileSync(join(ws, 'src/lib/b.js'), 'export const b = 2;\n');
  writeFileSync(join(ws, 'README.md'), '# hi\nTODO: docs\n');
  writeFileSync(join(ws, 'secret.pem'), 'TODO key\n');
  return ws;
}

describe('staging overlay', () => {
  it('writes and deletes are staged: the agent reads them back, the workspace is untouched', () => {
    const ws = workspace();
    const before = hashTree(ws);
    const o = new StagingOverlay(ws, () => true);
    assert.equal(o.write('src/a.js', Buffer.from('changed\n'), 'auto'), 'modify');
    assert.equal(o.write('src/new/c.js', Buffer.from('new\n'), 'review'), 'create');
    o.delete('README.md', 'require');
    assert.equal(o.read('src/a.js').toString(), 'changed\n');
    assert.equal(o.read('src/new/c.js').toString(), 'new\n');
    assert.throws(() => o.read('README.md'), (e) => OverlayError.is(e) && e.reason === 'not-found');
    assert.equal(readFileSync(join(ws, 'src/a.js'), 'utf8'), 'const a = 1; // TODO tidy\n');
    assert.equal(hashTree(ws), before);
  });

  it('proposes changes against the content the run first saw, with the strictest level', () => {
    const ws = workspace();
    const o = new StagingOverlay(ws, () => true);
    o.write('src/a.js', Buffer.from('one\n'), 'auto');
    o.write('src/a.js', Buffer.from('two\n'), 'review');
    o.write('tmp.txt', Buffer.from('x'), 'auto');
    o.delete('tmp.txt', 'auto');
    o.write('src/lib/b.js', Buffer.from('export const b = 2;\n'), 'auto');
    o.delete('README.md', 'require');
    const changes = o.changes();
    assert.deepEqual(
      changes.map((c) => [c.path, c.kind, c.level, c.before?.toString() ?? null, c.after?.toString() ?? null]),
      [
        ['README.md', 'delete', 'require', '# hi\nTODO: docs\n', null],
        ['src/a.js', 'modify', 'review', 'const a = 1; // TODO tidy\n', 'two\n'],
      ],
    );
  });

  it('lists the overlay on top of the disk, hiding what is not visible', () => {
    const ws = workspace();
    const o = new StagingOverlay(ws, (rel) => !rel.endsWith('.pem'));
    o.write('src/new/c.js', Buffer.from('n'), 'auto');
    o.delete('src/a.js', 'auto');
    assert.deepEqual(
      o.list('src').map((e) => [e.path, e.type]),
      [
        ['src/lib', 'dir'],
        ['src/new', 'dir'],
      ],
    );
    assert.deepEqual(
      o.list('').map((e) => e.path),
      ['README.md', 'src'],
    );
    assert.throws(() => o.list('src/a.js'), (e) => OverlayError.is(e));
    assert.throws(() => o.list('nope'), (e) => OverlayError.is(e) && e.reason === 'not-found');
  });

  it('searches staged content instead of the disk content, and never invisible files', () => {
    const ws = workspace();
    const o = new StagingOverlay(ws, (rel) => !rel.endsWith('.pem'));
    o.write('src/a.js', Buffer.from('no marker here\n'), 'auto');
    o.write('src/new.js', Buffer.from('x\n// TODO new\n'), 'auto');
    const { hits } = o.search('TODO', () => true);
    assert.deepEqual(hits, [
      { path: 'README.md', line: 2, text: 'TODO: docs' },
      { path: 'src/new.js', line: 2, text: '// TODO new' },
    ]);
    assert.deepEqual(o.search('TODO', (rel) => rel.startsWith('src/')).hits.map((h) => h.path), ['src/new.js']);
  });

  it('refuses writes over folders and below files, and deletes of missing files', () => {
    const ws = workspace();
    const o = new StagingOverlay(ws, () => true);
    assert.throws(() => o.write('src', Buffer.from(''), 'auto'), (e) => OverlayError.is(e) && e.reason === 'is-directory');
    assert.throws(() => o.write('README.md/x', Buffer.from(''), 'auto'), (e) => OverlayError.is(e) && e.reason === 'not-a-directory');
    assert.throws(() => o.delete('missing.txt', 'auto'), (e) => OverlayError.is(e) && e.reason === 'not-found');
    assert.throws(() => o.delete('src', 'auto'), (e) => OverlayError.is(e) && e.reason === 'is-directory');
  });
});
