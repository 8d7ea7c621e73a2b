// The filter bar keeps a chosen run (agent, tool) when its drop-down's options are rebuilt, e.g. when a new run
// appears while the run filter is active: the next filter change still carries it. The drop-down is a model of
// vscode-single-select's own rule: when its options change it rebuilds its list (after a slotchange) and selects
// the option marked `selected`, else the first; a value set before that is matched against the old list.
import * as assert from 'node:assert/strict';
import { FilterBar } from '../../media/src/timeline/filterBar';
import type { RunSummary, TimelineFacets, TimelineFilter } from '../../src/protocol/timelineProtocol';
import { useFakeDom } from './timelineFakeDom';
import type { FakeElement } from './timelineFakeDom';

/** Gives a fake element vscode-single-select's value and slotchange behaviour; returns the slotchange. */
function singleSelect(s: FakeElement): () => void {
  let known: string[] = [];
  let index = -1;
  let later = '';
  const slotchange = () => {
    known = s.children.map((c) => c.getAttribute('value') ?? '');
    index = s.children.findIndex((c) => c.getAttribute('selected') !== null);
    if (index < 0) index = known.length > 0 ? 0 : -1;
    if (later && known.includes(later)) {
      index = known.indexOf(later);
      later = '';
    }
  };
  Object.defineProperty(s, 'value', {
    get: () => known[index] ?? '',
    set: (v: string) => {
      index = known.indexOf(v);
      later = index > -1 ? '' : v;
    },
  });
  slotchange();
  return slotchange;
}

const run = (runId: string): RunSummary => ({ runId, agent: 'a', status: 'completed', events: 3, denied: 0, pending: 0 });
const facets = (...runs: string[]): TimelineFacets => ({ runs: runs.map(run), agents: ['a'], tools: ['fs.read'] });

describe('timeline filter bar', () => {
  useFakeDom();

  function setup() {
    const changes: TimelineFilter[] = [];
    const bar = new FilterBar({ filterChanged: (f) => changes.push(f), verify: () => undefined, exportAs: () => undefined });
    bar.set({}, false); // the controls' values, as the elements would start
    const root = bar.element as unknown as FakeElement;
    const find = (key: string): FakeElement => {
      const walk = (e: FakeElement): FakeElement | undefined => (e.getAttribute('data-filter') === key ? e : e.children.map(walk).find(Boolean));
      return walk(root)!;
    };
    const runs = find('runId');
    const decision = find('decision');
    return { bar, changes, runs, runsChanged: singleSelect(runs), decision, decisionChanged: singleSelect(decision) };
  }

  it('keeps the chosen run when a new run is added to the choices', () => {
    const { bar, changes, runs, runsChanged, decision } = setup();
    bar.setFacets(facets('run-b', 'run-a'));
    runsChanged();
    (runs as unknown as { value: string }).value = 'run-a';
    runs.dispatch('change');
    assert.deepEqual(changes.at(-1), { runId: 'run-a' });

    // A live update brings run-c: the options are rebuilt while the run filter is active.
    bar.setFacets(facets('run-c', 'run-b', 'run-a'));
    runsChanged();
    assert.equal((runs as unknown as { value: string }).value, 'run-a');
    assert.deepEqual(
      runs.children.filter((c) => c.getAttribute('selected') !== null).map((c) => c.getAttribute('value')),
      ['run-a'],
    );

    // The next filter change still carries the run.
    (decision as unknown as { value: string }).value = 'deny';
    decision.dispatch('change');
    assert.deepEqual(changes.at(-1), { runId: 'run-a', decision: 'deny' });
  });

  it('keeps a chosen run that is no longer offered, and "Any run" when none is chosen', () => {
    const { bar, changes, runs, runsChanged } = setup();
    bar.setFacets(facets('run-a'));
    runsChanged();
    assert.equal((runs as unknown as { value: string }).value, '');
    bar.set({ runId: 'run-old' }, true);
    bar.setFacets(facets('run-b', 'run-a'));
    runsChanged();
    assert.equal((runs as unknown as { value: string }).value, 'run-old');
    assert.deepEqual(changes.at(-1), { runId: 'run-old' });
    bar.set({}, true);
    bar.setFacets(facets('run-c', 'run-b', 'run-a'));
    runsChanged();
    assert.equal((runs as unknown as { value: string }).value, '');
  });
});
