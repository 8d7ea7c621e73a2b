// The policy `Airlock: Open Policy` writes when a workspace has none: the built-in defaults spelled out, with
// comments saying what each part is for. Kept free of `vscode` so a unit test can check it against the schema.
export const starterPolicyText = `// Agent Airlock policy: what agents may do in this workspace. Comments are allowed.
// Every agent gets "defaults"; "agents.<name>" (the agent file name without .agent.js) is merged over them.
{
  "version": 1,
  "defaults": {
    // Paths are globs relative to the workspace. .git/** is never writable and .airlock/** never reachable.
    "scope": {
      "read": ["**"],
      "write": ["src/**"],
      "deny": [".env", "**/*.pem"],
      "net": [],
      "tools": ["fs.*", "agent.escalate"]
    },
    // auto: go · review: go, flagged for review · require: wait for a human (a timeout denies) · deny: never
    "approval": { "fs.write": "review", "fs.delete": "require", "net.fetch": "require", "*": "auto" },
    "limits": { "maxCalls": 500, "maxFilesChanged": 20, "timeoutMs": 60000, "memoryMb": 128 },
    "breaker": { "failures": 5, "windowMs": 60000 }
  },
  "agents": {},
  "tools": {}
}
`;
