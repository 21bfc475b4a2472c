// Every operator of the condition language, each with a case that must match and one that
// must not, against views built through the real EntityTable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilterExpression, compilePolicyText, PolicyEngine, PolicyError } from '../../src/policy/index.js';
import { makeView, type ViewSpec } from './helpers.js';

const shell: ViewSpec = {
  type: 'PE',
  opFlags: 2, // EXEC
  procs: [
    { pid: 300, exe: '/bin/bash', args: '-c cat /etc/passwd', uid: 33, user: 'www-data', tty: true },
    { pid: 200, exe: '/usr/sbin/apache2', args: '-DFOREGROUND' },
    { pid: 1, exe: '/sbin/init' },
  ],
  container: { name: 'apache', image: 'vulnerables/cve-2014-6271:latest' },
};
const fileRead: ViewSpec = {
  type: 'FF',
  opFlags: (1 << 7) | (1 << 8) | (1 << 10),
  openFlags: 1 | 4, // RDONLY|CREAT
  file: { path: '/etc/shadow' },
  procs: [{ pid: 400, exe: '/usr/bin/cat', args: '/etc/shadow' }],
  container: null,
  flow: { rbytes: 4096n, rops: 2n },
};
const netFlow: ViewSpec = {
  type: 'NF',
  net: { sip: 16777343 /* 127.0.0.1 */, sport: 40000, dip: 0x0100a8c0 /* 192.168.0.1 */, dport: 443, proto: 6 },
  procs: [{ pid: 500, exe: '/usr/bin/curl', args: 'https://example.com' }],
  flow: { wbytes: 100n, wops: 1n, rbytes: 5000n, rops: 3n },
};

function check(expr: string, spec: ViewSpec, want: boolean, opts?: { dialect?: 'sysflow' | 'falco' }): void {
  const p = compileFilterExpression(expr, opts);
  assert.equal(p(makeView(spec)), want, `${expr} should be ${want}`);
}

const cases: [string, string, ViewSpec, string, ViewSpec][] = [
  // operator, true expression, view, false expression, view
  ['=', 'sf.proc.name = bash', shell, 'sf.proc.name = sh', shell],
  ['==', 'proc.name == bash', shell, 'proc.name == zsh', shell],
  ['!=', 'sf.proc.name != sh', shell, 'sf.proc.name != bash', shell],
  ['<', 'sf.flow.rbytes < 5000', fileRead, 'sf.flow.rbytes < 4096', fileRead],
  ['<=', 'sf.flow.rbytes <= 4096', fileRead, 'sf.flow.rbytes <= 4095', fileRead],
  ['>', 'sf.net.dport > 442', netFlow, 'sf.net.dport > 443', netFlow],
  ['>=', 'sf.net.dport >= 443', netFlow, 'sf.net.dport >= 444', netFlow],
  ['in', 'sf.proc.name in (sh, bash, zsh)', shell, 'sf.proc.name in (sh, zsh)', shell],
  ['pmatch', 'sf.proc.exe pmatch (nothing, bin/ba)', shell, 'sf.proc.exe pmatch (zsh, dash)', shell],
  ['startswith', "sf.file.path startswith '/etc/'", fileRead, "sf.file.path startswith '/var/'", fileRead],
  ['endswith', 'sf.file.path endswith shadow', fileRead, 'sf.file.path endswith passwd', fileRead],
  ['contains', 'sf.proc.cmdline contains "cat /etc"', shell, 'sf.proc.cmdline contains "rm -rf"', shell],
  ['icontains', 'sf.proc.cmdline icontains "CAT /ETC/PASSWD"', shell, 'sf.proc.cmdline icontains SHADOW', shell],
  ['exists (prefix)', 'exists sf.file.path', fileRead, 'exists sf.file.path', shell],
  ['exists (postfix)', 'sf.pproc.name exists', shell, 'sf.container.id exists', fileRead],
  ['glob', "sf.file.path glob '/etc/sha*'", fileRead, "sf.file.path glob '/etc/?asswd'", fileRead],
  ['iglob', "sf.file.path iglob '/ETC/SHA[a-z]OW'", fileRead, "sf.file.path iglob '/ETC/PASS*'", fileRead],
  ['regex', "sf.proc.args regex '-c .*passwd'", shell, "sf.proc.args regex 'passwd'", shell],
  ['intersects', 'sf.proc.aname intersects (apache2, nginx)', shell, 'sf.proc.aname intersects (nginx, httpd)', shell],
  ['istartswith', 'sf.proc.exe istartswith /BIN/', shell, 'sf.proc.exe istartswith /USR/', shell],
  ['iendswith', 'sf.proc.exe iendswith BASH', shell, 'sf.proc.exe iendswith ZSH', shell],
  ['bcontains', 'sf.proc.name bcontains 6173', shell /* "as" */, 'sf.proc.name bcontains 7a7a', shell],
  ['bstartswith', 'sf.proc.name bstartswith 6261', shell /* "ba" */, 'sf.proc.name bstartswith 6173', shell],
  ['and', 'sf.proc.name = bash and sf.proc.tty = true', shell, 'sf.proc.name = bash and sf.proc.tty = false', shell],
  ['or', 'sf.proc.name = sh or sf.proc.uid = 33', shell, 'sf.proc.name = sh or sf.proc.uid = 0', shell],
  ['not', 'not sf.proc.name = sh', shell, 'not sf.proc.name = bash', shell],
  ['parentheses', '(sf.proc.name = sh or sf.proc.name = bash) and sf.type = PE', shell, 'sf.proc.name = sh or (sf.proc.name = bash and sf.type = FF)', shell],
];

for (const [op, t, tv, f, fv] of cases) {
  test(`operator ${op}: true and false cases`, () => {
    check(t, tv, true);
    check(f, fv, false);
  });
}

test('list-valued fields: = matches any element, != means none equal', () => {
  check('sf.proc.aname = apache2', shell, true); // an ancestor
  check('sf.proc.aname = bash', shell, true); // the process itself
  check('sf.proc.aname != apache2', shell, false);
  check('sf.proc.aname != nginx', shell, true);
  check('sf.opflags = EXEC', shell, true);
  check('sf.opflags = OPEN', shell, false);
  check('sf.opflags in (OPEN, CLOSE)', fileRead, true);
  check('sf.opflags = READ and sf.opflags = READ_RECV', fileRead, true);
  check('sf.file.openflags in (O_CREAT)', fileRead, true);
  check('sf.file.openflags in (CREAT)', fileRead, true);
  check('sf.file.openflags = WRONLY', fileRead, false);
  check('sf.net.ip = 192.168.0.1', netFlow, true);
  check('sf.net.port = 443 and sf.net.port = 40000', netFlow, true);
  check('sf.net.port = 22', netFlow, false);
  check('sf.proc.apid = 200', shell, true);
});

test('indexed fields: proc.aname[N] is the Nth ancestor (0 = the process itself)', () => {
  check('proc.aname[0] = bash', shell, true);
  check('proc.aname[1] = apache2', shell, true);
  check('proc.aname[2] = init', shell, true);
  check('proc.aname[2] = apache2', shell, false);
  check('proc.aname[9] = init', shell, false);
  check('proc.apid[1] = 200', shell, true);
});

test('pmatch: substring in the sysflow dialect, path prefix in the falco dialect', () => {
  const v: ViewSpec = { ...fileRead, file: { path: '/etc/shadow-' } };
  check('sf.file.path pmatch (/etc/shadow)', v, true, { dialect: 'sysflow' });
  check('sf.file.path pmatch (/etc/shadow)', v, false, { dialect: 'falco' });
  check('sf.file.path pmatch (/etc)', v, true, { dialect: 'falco' });
  check('sf.file.path pmatch (/et)', v, false, { dialect: 'falco' });
  check('sf.file.path pmatch (/et)', v, true, { dialect: 'sysflow' });
});

test('right-hand field references: bare in the sysflow dialect, val() in both', () => {
  const same: ViewSpec = { ...shell, procs: [{ pid: 301, exe: '/bin/bash' }, { pid: 201, exe: '/bin/bash' }] };
  check('sf.proc.exe = sf.pproc.exe', same, true);
  check('sf.proc.exe = sf.pproc.exe', shell, false);
  check('sf.proc.exe != sf.pproc.exe', shell, true);
  check('proc.exe = val(proc.pexe)', same, true, { dialect: 'falco' });
  // In the falco dialect a bare operand is a literal string.
  check('sf.proc.exe = sf.pproc.exe', same, false, { dialect: 'falco' });
});

test('quoted strings of both kinds, escapes, bare items with brackets and colons', () => {
  check(`sf.proc.args = '-c cat /etc/passwd'`, shell, true);
  check(`sf.proc.args = "-c cat /etc/passwd"`, shell, true);
  check(`sf.proc.args contains "cat \\"x"`, shell, false);
  const runc: ViewSpec = { ...shell, procs: [{ pid: 7, exe: 'runc:[0:PARENT]' }] };
  check('proc.name in (runc:[0:PARENT], runc:[1:CHILD])', runc, true);
  check('proc.name = runc:[1:CHILD]', runc, false);
});

test('multi-line conditions, numbers, booleans, protocol names', () => {
  check('sf.proc.uid = 33\n   and sf.proc.tty = true\n\tand sf.type = PE', shell, true);
  check('sf.net.proto = tcp', netFlow, true);
  check('sf.net.proto = udp', netFlow, false);
  check('sf.ts > 1600000000000000000', shell, true);
  check('sf.container.privileged = false', shell, true);
  check('sf.container.type = DOCKER', shell, true);
  check('evt.type = execve', shell, true);
  check('evt.type in (open, openat)', fileRead, true);
  check('fd.name = /etc/shadow and fd.typechar = f and fd.type = file', fileRead, true);
  check("fd.name = '127.0.0.1:40000->192.168.0.1:443'", netFlow, true);
  check('evt.res = SUCCESS', shell, true);
});

test('lists of lists and macros of macros (policy text)', () => {
  const text = `
- list: shells
  items: [bash, zsh]
- list: interpreters
  items: [shells, python, '"(systemd)"']
- macro: spawned
  condition: sf.opflags = EXEC
- macro: shell_spawned
  condition: spawned and sf.proc.name in (interpreters)
- rule: Shell
  desc: shell spawned
  condition: shell_spawned
  priority: WARNING
  tags: [t1]
`;
  const r = compilePolicyText([{ name: 'mem.yaml', text }]);
  assert.ok(r.policy, JSON.stringify(r.diagnostics));
  assert.deepEqual(r.policy.lists.get('interpreters'), ['shells', 'python', '(systemd)']);
  const eng = new PolicyEngine(r.policy, 'alert');
  assert.equal(eng.process(makeView(shell))?.alerts[0]?.name, 'Shell');
  assert.equal(eng.process(makeView({ ...shell, procs: [{ pid: 9, exe: '/usr/bin/(systemd)' }] }))?.alerts[0]?.name, 'Shell');
  assert.equal(eng.process(makeView({ ...shell, procs: [{ pid: 9, exe: '/bin/sh' }] })), null);
});

test('compileFilterExpression reports positions', () => {
  assert.throws(() => compileFilterExpression('sf.proc.name = bash and sf.bogus = 1'), (e: unknown) => {
    assert.ok(e instanceof PolicyError);
    assert.match(e.message, /<filter>:1:25: error: unknown field 'sf.bogus'/);
    return true;
  });
});
