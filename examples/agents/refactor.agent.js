// A refactoring agent: renames a helper everywhere it is used and tidies up a scratch file.
// Try: npx airlock run examples/agents/refactor.agent.js --workspace examples/demo
export default async function agent(ctx) {
  const [from, to] = parseTask(ctx.task) ?? ['formatPrice', 'formatMoney'];
  ctx.log(`renaming ${from} to ${to}`);

  ctx.reason(`find every use of ${from}`);
  const hits = await ctx.fs.search(from, { glob: 'src/**' });
  const files = [...new Set(hits.map((h) => h.path))];

  const pattern = new RegExp(`\\b${from}(?=\\w*\\()|\\b${from}\\b`, 'g');
  for (const path of files) {
    ctx.reason(`rename ${from} to ${to} in ${path}`);
    const source = await ctx.fs.read(path);
    await ctx.fs.write(path, source.replace(pattern, (m) => to + m.slice(from.length)));
  }

  ctx.reason('the scratch file is no longer needed');
  try {
    await ctx.fs.delete('tmp/scratch.txt');
  } catch (e) {
    ctx.log(`kept tmp/scratch.txt: ${e.message}`);
  }
  return { renamed: hits.length, files };
}

function parseTask(task) {
  const m = /rename\s+(\w+)\s+to\s+(\w+)/i.exec(task ?? '');
  return m ? [m[1], m[2]] : undefined;
}
