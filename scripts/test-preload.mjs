// Preloaded into every test file's process (scripts/run-tests.sh: --import). The file reports its
// results to the runner as frames on its stdout, a pipe; --test-force-exit ends the process with
// process.exit() once its tests are done, which can cut off frames still queued for the pipe: the
// runner then counts fewer tests than ran (one CI run lost a whole suite, with exit status 0).
// Blocking writes leave nothing queued. (nodejs/node#64833; the fix proposed there does the same.)
const handle = process.stdout._handle;
if (handle && typeof handle.setBlocking === 'function') handle.setBlocking(true);
