// The editor's list of recent runs on disk: read back exactly after a reload, written atomically in order, and a
// damaged file moved aside and said (the list starts empty), never half-read.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { RunHistoryStore, type RunSummaryRecord } from '../../src/core/runtime/runHistoryStore';
import { removeDir, tempDir } from '../fixtures/snapshotTree';

const runs: RunSummaryRecord[] = [
  {
    runId: 'run-20261121-150000-aaaaaa',
    agent: 'refactor',
    agentFile: '/ws/agents/refactor.agent.js',
    task: 'rename formatPrice to formatMoney — «everywhere»',
    workspace: '/ws',
    startedAt: '2026-11-21T15:00:00.000Z',
    ended: { status: 'completed', reason: 'the agent returned', durationMs: 812.5, calls: { total: 12, denied: 1 }, changes: 4 },
  },
  { runId: 'run-20261121-140000-bbbbbb', agent: 'spin', agentFile: '/ws/spin.agent.js', task: '', workspace: '/ws', startedAt: '2026-11-21T14:00:00.000Z', error: 'the sandbox process crashed' },
];

describe('RunHistoryStore', () => {
  let state: string;
  beforeEach(() => (state = tempDir('airlock-runs-')));
  afterEach(() => removeDir(state));

  it('reads back what was saved, in order; nothing saved is an empty list', async () => {
    assert.deepEqual(new RunHistoryStore(state).load(), { runs: [] });
    const store = new RunHistoryStore(state);
    void store.save(runs.slice(1));
    await store.save(runs); // the later save wins
    assert.deepEqual(new RunHistoryStore(state).load(), { runs });
  });

  for (const [what, text] of [
    ['not JSON', '{"version":1,"runs":['],
    ['a newer version', JSON.stringify({ version: 2, runs: [] })],
    ['a run id that is a path', JSON.stringify({ version: 1, runs: [{ ...runs[0], runId: '../../x' }] })],
    ['an unknown field', JSON.stringify({ version: 1, runs: [{ ...runs[0], script: 'x' }] })],
  ] as const) {
    it(`moves a file with ${what} aside and says so`, async () => {
      const store = new RunHistoryStore(state);
      fs.writeFileSync(store.file, text);
      const loaded = store.load();
      assert.deepEqual(loaded.runs, []);
      assert.match(loaded.problem ?? '', /could not be read back .*moved to .*runs\.json\.damaged/);
      assert.equal(fs.readFileSync(`${store.file}.damaged`, 'utf8'), text);
      assert.deepEqual(store.load(), { runs: [] }, 'said once');
      await store.save(runs);
      assert.deepEqual(store.load(), { runs });
    });
  }
});
