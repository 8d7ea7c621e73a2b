// Finding a Node >= 22 for the sandbox: the order of the candidates, and errors that say how to fix things.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findSandboxNode, provisionedNodePath, SandboxNodeError } from '../../src/core/runtime/sandboxNode';
import { sandboxDir } from '../helpers/sandboxResponder';

describe('sandbox node', function () {
  this.timeout(20_000);
  const provisioned = provisionedNodePath(sandboxDir);
  let empty: string;
  before(() => (empty = mkdtempSync(path.join(tmpdir(), 'airlock-nonode-'))));
  after(() => rmSync(empty, { recursive: true, force: true }));

  it('uses the explicit setting first', async () => {
    const found = await findSandboxNode({ sandboxDir: empty, nodePath: provisioned, env: { AIRLOCK_SANDBOX_NODE: '/nowhere/node' } });
    assert.equal(found.source, 'option');
    assert.equal(found.path, provisioned);
    assert.ok(Number(found.version.split('.')[0]) >= 22);
  });

  it('then AIRLOCK_SANDBOX_NODE', async () => {
    const found = await findSandboxNode({ sandboxDir: empty, env: { AIRLOCK_SANDBOX_NODE: provisioned } });
    assert.equal(found.source, 'env');
  });

  it('then the Node that npm install provisioned', async () => {
    const found = await findSandboxNode({ sandboxDir, env: { PATH: '' } });
    assert.equal(found.source, 'provisioned');
    assert.equal(found.path, provisioned);
  });

  it('or the Node that npm install recorded in sandbox/.node/runtime.json', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'airlock-recorded-'));
    try {
      mkdirSync(path.join(dir, '.node'));
      writeFileSync(path.join(dir, '.node', 'runtime.json'), JSON.stringify({ node: provisioned, version: 'x', isolatedVm: '6.2.0' }));
      const found = await findSandboxNode({ sandboxDir: dir, env: { PATH: '' }, allowCurrentProcess: false });
      assert.equal(found.source, 'provisioned');
      assert.equal(found.path, provisioned);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('then the current process, when it is plain Node >= 22', async function () {
    if (Number(process.versions.node.split('.')[0]) < 22 || process.versions.electron) this.skip();
    const found = await findSandboxNode({ sandboxDir: empty, env: { PATH: '' } });
    assert.equal(found.source, 'current');
  });

  it('then node on PATH', async () => {
    const found = await findSandboxNode({ sandboxDir: empty, env: { PATH: path.dirname(provisioned) }, allowCurrentProcess: false });
    assert.equal(found.source, 'path');
    assert.equal(found.path, provisioned);
  });

  it('a configured Node that does not work is an error naming the setting, not a silent fallback', async () => {
    await assert.rejects(
      findSandboxNode({ sandboxDir, nodePath: path.join(empty, 'node') }),
      (e) => SandboxNodeError.is(e) && e.reason === 'configured-unusable' && /airlock\.sandbox\.nodePath/.test(e.message) && /does not exist/.test(e.message),
    );
    await assert.rejects(
      findSandboxNode({ sandboxDir, env: { AIRLOCK_SANDBOX_NODE: path.join(empty, 'node') } }),
      (e) => SandboxNodeError.is(e) && e.reason === 'configured-unusable' && /AIRLOCK_SANDBOX_NODE/.test(e.message),
    );
  });

  it('a Node older than 22 is not used', async function () {
    if (Number(process.versions.node.split('.')[0]) >= 22) this.skip();
    await assert.rejects(
      findSandboxNode({ sandboxDir, nodePath: process.execPath }),
      (e) => SandboxNodeError.is(e) && e.reason === 'configured-unusable' && e.message.includes(`is Node ${process.versions.node}`),
    );
    await assert.rejects(
      findSandboxNode({ sandboxDir: empty, env: { PATH: path.dirname(process.execPath) } }),
      (e) => SandboxNodeError.is(e) && e.reason === 'not-found' && e.tried.some((t) => t.includes(`is Node ${process.versions.node}`)),
    );
  });

  it('when there is none, the error says exactly how to get one', async () => {
    await assert.rejects(findSandboxNode({ sandboxDir: empty, env: { PATH: '' }, allowCurrentProcess: false }), (e) => {
      assert.ok(SandboxNodeError.is(e));
      assert.equal(e.reason, 'not-found');
      assert.match(e.message, /AIRLOCK_SANDBOX_NODE/);
      assert.match(e.message, /airlock\.sandbox\.nodePath/);
      assert.match(e.message, /npm install/);
      assert.equal(e.tried.length, 2);
      return true;
    });
  });
});
