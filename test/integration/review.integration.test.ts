// The reviewer's path in a real VS Code: run an agent, see its changes in the Pending Changes view, approve a
// file (applied, snapshotted), reject one (untouched), approve some hunks only, roll back and redo; answer gates
// and escalations through the commands the buttons call; stop a runaway agent; refuse to write under an
// unsaved editor; flag an invalid policy in the Problems view.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { RunReport } from '../../src/core/runtime/agentRuntime';
import type { AirlockApi } from '../../src/vscode/extension';
import type { ReviewOutcome } from '../../src/vscode/changeReview';
import { dirtyChoices } from '../../src/vscode/dirtyEditors';
import { activateAirlock, workspaceRoot } from './airlockExtension';
import { waitFor } from './waitFor';

const repoRoot = resolve(__dirname, '..', '..', '..');
const fixtures = join(repoRoot, 'test', 'fixtures', 'editor');
const writer = join(fixtures, 'writer.agent.js');
const asker = join(fixtures, 'asker.agent.js');
const spin = join(fixtures, 'spin.agent.js');

const abs = (rel: string) => join(workspaceRoot(), ...rel.split('/'));
const read = (rel: string) => readFileSync(abs(rel), 'utf8');

function run(agentFile: string, task: unknown): Promise<RunReport> {
  return Promise.resolve(vscode.commands.executeCommand<RunReport>('airlock.runAgent', { agentFile, task: JSON.stringify(task) })).then((r) => {
    assert.ok(r, 'the run reports');
    return r;
  });
}

/** Ten lines; the agent changes lines 2 and 8, far enough apart to be two hunks. */
const tenLines = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
const twoEdits = tenLines.replace('line 2\n', 'line two\n').replace('line 8\n', 'line eight\n');

describe('Reviewing agent changes in the editor', function () {
  this.timeout(120_000);
  const dir = `review-${process.pid}`;
  let report: RunReport;
  let airlock: AirlockApi;
  const api = () => airlock;

  before(async () => {
    airlock = await activateAirlock();
    mkdirSync(abs(`src/${dir}`), { recursive: true });
    writeFileSync(abs(`src/${dir}/approve.txt`), 'old approve\n');
    writeFileSync(abs(`src/${dir}/reject.txt`), 'old reject\n');
    writeFileSync(abs(`src/${dir}/hunks.txt`), tenLines);
    report = await run(writer, {
      write: {
        [`src/${dir}/approve.txt`]: 'new approve\n',
        [`src/${dir}/reject.txt`]: 'new reject\n',
        [`src/${dir}/hunks.txt`]: twoEdits,
        [`src/${dir}/added/new.txt`]: 'brand new\n',
      },
    });
  });

  after(() => rmSync(abs(`src/${dir}`), { recursive: true, force: true }));

  it('lists the run in the Runs view and every proposed file in Pending Changes, with nothing written', async () => {
    assert.equal(report.status, 'completed', report.reason);
    const a = api();
    assert.ok(a.runner.runs.some((r) => r.runId === report.runId && r.report?.status === 'completed'), 'the Runs view lists the finished run');
    const files = a.pendingChanges.forRun(report.runId).map((p) => `${p.change.kind} ${p.change.path}`).sort();
    assert.deepEqual(files, [`create src/${dir}/added/new.txt`, `modify src/${dir}/approve.txt`, `modify src/${dir}/hunks.txt`, `modify src/${dir}/reject.txt`]);
    assert.equal(read(`src/${dir}/approve.txt`), 'old approve\n', 'nothing is written before approval');
    assert.ok(!existsSync(abs(`src/${dir}/added`)));
    assert.match(a.statusBar.shown.text, /\$\(diff\) \d+/, 'the status bar counts pending changes');
  });

  it('opens a pending file in the diff editor: the workspace file against the proposed content', async () => {
    await vscode.commands.executeCommand('airlock.openPendingChange', { runId: report.runId, path: `src/${dir}/approve.txt` });
    const tab = await waitFor(() => {
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return input instanceof vscode.TabInputTextDiff ? input : undefined;
    }, { what: 'a diff editor' });
    assert.equal(tab.original.fsPath, abs(`src/${dir}/approve.txt`));
    assert.equal(tab.modified.scheme, 'airlock-proposed');
    const proposed = await vscode.workspace.openTextDocument(tab.modified);
    assert.equal(proposed.getText(), 'new approve\n');
  });

  it('Approve in the editor title applies the file in front through a snapshot, and open editors show the new content', async () => {
    const a = api();
    const editor = await vscode.window.showTextDocument(vscode.Uri.file(abs(`src/${dir}/approve.txt`)), { preview: false });
    await vscode.commands.executeCommand('airlock.openPendingChange', { runId: report.runId, path: `src/${dir}/approve.txt` });
    // No argument: the command works on the diff in front, as the editor title button does.
    const outcome = await vscode.commands.executeCommand<ReviewOutcome>('airlock.approveChange');
    assert.equal(outcome.outcome, 'applied');
    assert.equal(read(`src/${dir}/approve.txt`), 'new approve\n');
    assert.ok(!a.pendingChanges.get(report.runId, `src/${dir}/approve.txt`), 'no longer pending');
    const snapshots = await (await a.runner.state()).snapshots();
    const snap = await snapshots.get(outcome.outcome === 'applied' ? outcome.snapshotId : '');
    assert.deepEqual(snap.files.map((f) => f.path), [`src/${dir}/approve.txt`]);
    await waitFor(() => (editor.document.getText() === 'new approve\n' ? true : undefined), { what: 'the open editor to show the applied content' });
  });

  it('Reject leaves the workspace as it is and records the decision', async () => {
    const a = api();
    const outcome = await vscode.commands.executeCommand<ReviewOutcome>('airlock.rejectChange', { runId: report.runId, path: `src/${dir}/reject.txt` });
    assert.equal(outcome.outcome, 'rejected');
    assert.equal(read(`src/${dir}/reject.txt`), 'old reject\n');
    assert.ok(!a.pendingChanges.get(report.runId, `src/${dir}/reject.txt`));
    const { events } = await (await a.runner.state()).audit.query({ runId: report.runId, type: 'approval', decision: 'rejected' });
    assert.equal(events.length, 1);
    assert.match(events[0]!.actor ?? '', /^human:/);
    assert.deepEqual(events[0]!.args, { rejected: [`src/${dir}/reject.txt`] });
  });

  it('per-hunk review: a thread per hunk in the diff, approve one and reject the other, only the approved hunk is applied; roll back and redo', async () => {
    const a = api();
    const path = `src/${dir}/hunks.txt`;
    await vscode.commands.executeCommand('airlock.openPendingChange', { runId: report.runId, path });
    const threads = await waitFor(() => (a.hunks.threadsFor(report.runId, path).length === 2 ? a.hunks.threadsFor(report.runId, path) : undefined), { what: 'a comment thread per hunk' });
    assert.match(threads[0]!.label ?? '', /Hunk 1 of 2/);
    assert.equal(threads[0]!.contextValue, 'airlock.hunk.pending');

    // The thread title buttons call these commands with the thread.
    const first = await vscode.commands.executeCommand<ReviewOutcome>('airlock.approveHunk', threads[0]);
    assert.equal(first.outcome, 'recorded');
    assert.equal(read(path), tenLines, 'nothing is applied until every hunk is decided');
    const second = await vscode.commands.executeCommand<ReviewOutcome>('airlock.rejectHunk', threads[1]);
    assert.equal(second.outcome, 'applied');
    assert.equal(read(path), tenLines.replace('line 2\n', 'line two\n'), 'only the approved hunk is applied');

    // Roll back (byte-identical), then redo.
    const snapshotId = second.outcome === 'applied' ? second.snapshotId : '';
    const store = await (await a.runner.state()).snapshots();
    const undone = await store.rollback(snapshotId, { actor: 'human:test' });
    assert.equal(read(path), tenLines);
    await store.rollback(undone.snapshot.id, { actor: 'human:test' });
    assert.equal(read(path), tenLines.replace('line 2\n', 'line two\n'));
  });

  it('a dirty editor is never written under: asked, and Cancel leaves the file and the buffer alone', async () => {
    const a = api();
    const path = `src/${dir}/added/new.txt`;
    // Make an unsaved editor for a file the change touches: create it on disk first so it can be opened.
    const r = await run(writer, { write: { [`src/${dir}/dirty.txt`]: 'agent content\n' } });
    writeFileSync(abs(`src/${dir}/dirty.txt`), 'on disk\n');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(abs(`src/${dir}/dirty.txt`)));
    const editor = await vscode.window.showTextDocument(doc, { preview: false });
    await editor.edit((e) => e.insert(new vscode.Position(0, 0), 'my unsaved words\n'));
    assert.ok(doc.isDirty);

    const asked: string[] = [];
    const answering = a.prompts.answerWith((q) => {
      asked.push(q.message);
      return dirtyChoices.cancel;
    });
    try {
      const outcome = await vscode.commands.executeCommand<ReviewOutcome>('airlock.approveChange', { runId: r.runId, path: `src/${dir}/dirty.txt` });
      assert.equal(outcome.outcome, 'cancelled');
    } finally {
      answering.dispose();
    }
    assert.equal(asked.length, 1, 'the user was asked about the unsaved editor');
    assert.match(asked[0]!, /unsaved edits/);
    assert.equal(read(`src/${dir}/dirty.txt`), 'on disk\n', 'the file on disk is untouched');
    assert.ok(doc.isDirty && doc.getText().startsWith('my unsaved words'), 'the unsaved buffer is untouched');
    assert.ok(a.pendingChanges.get(r.runId, `src/${dir}/dirty.txt`), 'the change is still pending');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    assert.ok(a.pendingChanges.get(report.runId, path), 'the created file of the first run is still pending');
  });

  it('Approve All for a run applies what is left of it in one snapshot, creating new folders', async () => {
    const a = api();
    const outcome = await vscode.commands.executeCommand<ReviewOutcome>('airlock.approveRun', { runId: report.runId });
    assert.equal(outcome.outcome, 'applied');
    assert.equal(read(`src/${dir}/added/new.txt`), 'brand new\n');
    assert.deepEqual(a.pendingChanges.forRun(report.runId), []);
  });

  it('a gated action is approved, and another denied, through the commands the buttons call; an escalation is answered', async () => {
    const a = api();
    writeFileSync(abs(`src/${dir}/gate-yes.txt`), 'x');
    writeFileSync(abs(`src/${dir}/gate-no.txt`), 'x');
    const yes = run(asker, { delete: `src/${dir}/gate-yes.txt`, question: 'Which module should I touch?' });
    const gate1 = await waitFor(() => a.approvals.pending.find((p) => p.tool === 'fs.delete' && JSON.stringify(p.args).includes('gate-yes')), { timeoutMs: 60_000, what: 'the first gate' });
    assert.equal(gate1.rule.length > 0, true, 'the gate names the rule that fired');
    assert.equal(gate1.reason, 'the file is obsolete', 'the gate shows the agent reason');
    assert.equal(await vscode.commands.executeCommand('airlock.approveRequest', gate1), true);
    const esc = await waitFor(() => a.approvals.pending.find((p) => p.kind === 'escalation'), { timeoutMs: 60_000, what: 'the escalation' });
    assert.equal(esc.reason, 'Which module should I touch?');
    assert.equal(await vscode.commands.executeCommand('airlock.approveRequest', esc), true);
    const yesReport = await yes;
    assert.deepEqual(yesReport.result, { deleted: 'approved', answer: 'continue' });

    const no = run(asker, { delete: `src/${dir}/gate-no.txt` });
    const gate2 = await waitFor(() => a.approvals.pending.find((p) => JSON.stringify(p.args).includes('gate-no')), { timeoutMs: 60_000, what: 'the second gate' });
    assert.equal(await vscode.commands.executeCommand('airlock.denyRequest', gate2), true);
    const noReport = await no;
    assert.match(String((noReport.result as { deleted: string }).deleted), /^denied/);

    // Each answer is in the audit log with the human as the actor.
    const audit = (await a.runner.state()).audit;
    const answers = [
      ...(await audit.query({ runId: yesReport.runId, type: 'approval' })).events,
      ...(await audit.query({ runId: noReport.runId, type: 'approval' })).events,
    ].map((e) => `${e.tool} ${e.decision} ${(e.actor ?? '').replace(/^human:.*/, 'human')}`);
    assert.deepEqual(answers.sort(), ['agent.escalate approved human', 'fs.delete approved human', 'fs.delete rejected human']);
  });

  it('Stop All Agents ends an agent stuck in while(true) and the Runs view shows it halted', async () => {
    const a = api();
    const running = run(spin, {});
    await waitFor(() => (a.runner.running.length > 0 ? true : undefined), { timeoutMs: 60_000, what: 'the spinning agent to start' });
    const started = Date.now();
    const stopped = await vscode.commands.executeCommand<number>('airlock.stopAll');
    const tookMs = Date.now() - started;
    assert.equal(stopped, 1);
    const r = await running;
    // The kill switch halts the run (DESIGN §4.2): status `halted`, with the reason it was given.
    assert.equal(r.status, 'halted', r.reason);
    assert.match(r.reason, /Stop All Agents/);
    assert.equal(a.runner.runs.find((x) => x.runId === r.runId)?.report?.status, 'halted', 'the Runs view shows it halted');
    assert.equal(a.runner.running.length, 0, 'nothing runs once Stop All Agents resolves');
    console.log(`      (stop took ${tookMs} ms)`);
  });

  it('an invalid policy shows in the Problems view on the field, and a run is refused', async () => {
    const a = api();
    const policyPath = join(workspaceRoot(), '.airlock', 'policy.json');
    const good = readFileSync(policyPath, 'utf8');
    try {
      writeFileSync(policyPath, good.replace('"maxCalls": 200', '"maxCalls": "lots"'));
      const uri = vscode.Uri.file(policyPath);
      const problems = await waitFor(() => (a.policyProblems.problemsFor(uri).length > 0 ? a.policyProblems.problemsFor(uri) : undefined), { what: 'a problem on the policy' });
      assert.match(problems[0]!.message, /maxCalls/);
      const line = good.split('\n').findIndex((l) => l.includes('"maxCalls"'));
      assert.equal(problems[0]!.range.start.line, line, 'the problem sits on the maxCalls line');
      assert.deepEqual(vscode.languages.getDiagnostics(uri).map((d) => d.source), ['Agent Airlock']);
      await assert.rejects(Promise.resolve(vscode.commands.executeCommand('airlock.runAgent', { agentFile: writer, task: '{}' })), /not a valid policy/);
    } finally {
      writeFileSync(policyPath, good);
    }
    await waitFor(() => (a.policyProblems.problemsFor(vscode.Uri.file(policyPath)).length === 0 ? true : undefined), { what: 'the problem to clear once the policy is fixed' });
  });
});
