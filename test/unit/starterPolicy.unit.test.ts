import * as assert from 'node:assert/strict';
import { parsePolicyText, resolveAgentPolicy } from '../../src/core/policy/policyLoader';
import { starterPolicyText } from '../../src/vscode/starterPolicy';

describe('the starter policy that Airlock: Open Policy writes', () => {
  it('is a valid policy (comments included), so a new workspace can run agents right away', () => {
    const policy = parsePolicyText(starterPolicyText, '.airlock/policy.json');
    const resolved = resolveAgentPolicy(policy, 'any');
    assert.equal(resolved.approval.levels['fs.delete'], 'require');
  });

  it('keeps the safe defaults: writes reviewed, deletes and network gated, secrets denied', () => {
    const policy = parsePolicyText(starterPolicyText, '.airlock/policy.json');
    assert.equal(policy.defaults?.approval?.['fs.write'], 'review');
    assert.equal(policy.defaults?.approval?.['net.fetch'], 'require');
    assert.deepEqual(policy.defaults?.scope?.net, []);
    assert.ok(policy.defaults?.scope?.deny?.includes('.env'));
  });
});
