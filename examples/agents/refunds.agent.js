// A business agent: processes refund requests with the policy's custom tools. Refunds over 500 need a human
// (an approval rule); with --approve none they are denied, with --approve all they go through.
// Try: npx airlock run examples/agents/refunds.agent.js --workspace examples/demo
export default async function agent(ctx) {
  const requests = JSON.parse(await ctx.fs.read('data/refund-requests.json'));
  const done = [];
  const needsHuman = [];
  for (const r of requests) {
    ctx.reason(`refund ${r.orderId}: ${r.reason}`);
    try {
      const res = await ctx.tools.call('refund.process', { orderId: r.orderId, amount: r.amount });
      await ctx.tools.call('crm.note', { customer: r.customer, note: `refunded ${r.amount} for ${r.orderId}` });
      done.push({ orderId: r.orderId, amount: r.amount, status: res.status });
    } catch (e) {
      ctx.log(`refund ${r.orderId} not processed: ${e.message}`);
      needsHuman.push({ orderId: r.orderId, amount: r.amount, why: e.message });
    }
  }
  return { refunded: done, notRefunded: needsHuman };
}
