// What a run id may be where it names files and folders in the run state folder (pending changes, the run
// list): the characters newRunId uses, never a path.
export const RUN_ID = /^[A-Za-z0-9._-]{1,128}$/;
