// Independent "witnesses" for the golden alert file: each rule that fires on the sample traces,
// re-implemented by hand in plain TypeScript over the raw SysFlow objects (no policy language,
// no field catalogue), from a reading of the rule text in runtimeintegrity/{globals,
// runtimeintegrity,ttps}.yaml. The golden file was generated from these witnesses, and the
// test checks that the engine, the witnesses and the golden file agree.
//
// Semantics used (documented in docs/policy-language.md): pmatch = substring (sf-processor);
// list fields (opflags, aname) match if any element matches; a missing entity gives ''/0;
// when both files define a macro or list, the later file (ttps.yaml) wins for every rule.
import type { Process } from '../../../src/sysflow/types.js';
import type { SfRecordView } from '../../../src/sysflow/view.js';

const EXEC = 1 << 1, CONNECT = 1 << 6, ACCEPT = 1 << 5, OPEN = 1 << 7, WRITE = 1 << 9;
const O_RDONLY = 1, O_CREAT = 4;

// Lists, copied from the policy files (identical in runtimeintegrity.yaml and ttps.yaml).
const shell_binaries = ['bash', 'csh', 'ksh', 'sh', 'tcsh', 'zsh', 'dash'];
const compilers = ['g++', 'gcc', 'clang', 'javac'];
const shell_interpreters = ['awk', 'gawk'];
const coreutils_mod_binaries = ['truncate', 'who', 'groups', 'csplit', 'expand', 'printenv', 'unlink', 'chcon', 'split', 'whoami', 'users', 'stdbuf', 'unexpand', 'paste', 'runcon', 'env', 'install', 'logname', 'pinky', 'nohup', 'tty', 'id', 'mkfifo', 'shred', 'link', 'chroot', 'chown', 'touch', 'dd', 'chgrp', 'chmod', 'mktemp', 'mknod', 'ln', 'rm', 'mv', 'cp', 'rmdir'];
const coreutils_binaries = ['truncate', 'sha1sum', 'numfmt', 'fmt', 'fold', 'uniq', 'cut', 'who', 'groups', 'csplit', 'sort', 'expand', 'printf', 'printenv', 'unlink', 'tee', 'chcon', 'stat', 'basename', 'split', 'nice', 'yes', 'whoami', 'sha224sum', 'hostid', 'users', 'stdbuf', 'base64', 'unexpand', 'cksum', 'od', 'paste', 'nproc', 'pathchk', 'sha256sum', 'wc', 'test', 'comm', 'arch', 'du', 'factor', 'sha512sum', 'md5sum', 'tr', 'runcon', 'env', 'dirname', 'tsort', 'join', 'shuf', 'install', 'logname', 'pinky', 'nohup', 'expr', 'pr', 'tty', 'timeout', 'tail', '[', 'seq', 'sha384sum', 'nl', 'head', 'id', 'mkfifo', 'sum', 'dircolors', 'ptx', 'shred', 'tac', 'link', 'chroot', 'vdir', 'chown', 'touch', 'ls', 'dd', 'uname', 'true', 'pwd', 'date', 'chgrp', 'chmod', 'mktemp', 'cat', 'mknod', 'sync', 'ln', 'false', 'rm', 'mv', 'cp', 'echo', 'readlink', 'sleep', 'stty', 'mkdir', 'df', 'dir', 'rmdir'];
// user_mgmt_binaries = [login_binaries, passwd_binaries (no such list: the literal), shadowutils_binaries]
const user_mgmt_binaries = ['login', 'systemd', '(systemd)', 'systemd-logind', 'su', 'nologin', 'faillog', 'lastlog', 'newgrp', 'sg', 'passwd_binaries', 'chage', 'gpasswd', 'lastlog', 'newgrp', 'sg', 'adduser', 'deluser', 'chpasswd', 'groupadd', 'groupdel', 'addgroup', 'delgroup', 'groupmems', 'groupmod', 'grpck', 'grpconv', 'grpunconv', 'newusers', 'pwck', 'pwconv', 'pwunconv', 'useradd', 'userdel', 'usermod', 'vigr', 'vipw', 'unix_chkpwd'];
const system_discovery_cmds = ['uname', 'lsb_release', 'lscpu', 'lshw', 'lsmod', 'lspci', 'lsscsi', 'lsblk', 'hwinfo', 'hostname', 'inxi', 'uptime', 'dmidecode'];
const discovery_cmds = ['cat', 'strings', 'nl', 'head', 'tail'];
const package_mgmt_binaries = [
  'dnf', 'rpm', 'rpmkey', 'yum', '75-system-updat', 'rhsmcertd-worke', 'subscription-ma', 'repoquery', 'rpmkeys', 'rpmq', 'yum-cron', 'yum-config-mana', 'yum-debug-dump', 'abrt-action-sav', 'rpmdb_stat', 'microdnf', 'rhn_check', 'yumdb',
  'dpkg', 'dpkg-preconfigu', 'dpkg-reconfigur', 'dpkg-divert', 'apt', 'apt-get', 'aptitude', 'frontend', 'preinst', 'add-apt-reposit', 'apt-auto-remova', 'apt-key', 'apt-listchanges', 'unattended-upgr', 'apt-add-reposit',
  'update-alternat', 'gem', 'pip', 'pip3', 'sane-utils.post', 'alternatives', 'chef-client',
];
const http_server_binaries = ['nginx', 'httpd', 'httpd-foregroun', 'lighttpd', 'apache', 'apache2', 'node'];
const log_paths = ['/var/', '/tmp/nginx-ingress.private'];
const system_directories = ['/boot', '/lib', '/lib64', '/usr/lib', '/usr/local/lib', '/usr/local/sbin', '/usr/local/bin', '/root/.ssh', '/etc'];
const privileged_processes = ['/usr/bin/sudo', '/usr/local/sbin/runc'];
const auth_processes = ['/opt/ibm/java/bin/keytool', '/bin/chown', '/bin/chmod', '/bin/bash'];
const sys_password_files = ['/etc/shadow', '/etc/passwd'];
// globals.yaml
const infrastructure_containers = ['syslog-configurator', 'ibmcloud-object-storage-driver-container', 'ibmcloud-object-storage-plugin-container', 'bes-relay', 'vpn', 'vpn-client', 'kube-auditlog-forwarder'];
const edr_log_misc = ['/crowdstrike/cmd.sh', 'besclient', 'BESClient', 'logdna', 'splunk', 'rsyslog', 'calico-node'];

// Raw accessors.
const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const exe = (p: Process | null): string => (p ? p.exe.trim() : '');
const name = (p: Process | null): string => base(exe(p));
const args = (p: Process | null): string => (p ? p.exeArgs.trim() : '');
const cmdline = (p: Process | null): string => (p ? (args(p) ? `${exe(p)} ${args(p)}` : exe(p)) : '');
const flags = (v: SfRecordView): number => (v.obj.type === 'KE' ? 0 : v.obj.rec.opFlags);
const openFlags = (v: SfRecordView): number => (v.obj.type === 'FF' ? v.obj.rec.openFlags : 0);
const path = (v: SfRecordView): string => (v.file ? v.file.path.trim() : '');
const dir = (v: SfRecordView): string => {
  const p = path(v);
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : i === 0 ? '/' : p.slice(0, i);
};
const anyContains = (s: string, items: string[]): boolean => items.some((i) => s.includes(i));
const ppid = (v: SfRecordView): number => (v.proc?.poid ? Number(v.proc.poid.hpid) : 0);
const entrypoint = (v: SfRecordView): boolean => ppid(v) === 0; // `not sf.pproc.pid exists`

/** globals.yaml `filter: __global__ condition: not _whitelist`: true = the record is kept. */
export function whitelisted(v: SfRecordView): boolean {
  const p = v.proc;
  const anames = p ? [name(p), ...v.ancestors().map(name)] : [];
  const heartbeat = cmdline(v.pproc).includes('syslog-configurator') && exe(p).includes('nsenter') && args(p).toLowerCase().includes('heartbeat');
  const containerInit = exe(p).startsWith('/proc/self/fd/6') && args(p) === 'init' && exe(p) === exe(v.pproc);
  return (
    !infrastructure_containers.includes(v.container?.name ?? '') &&
    !anames.some((a) => anyContains(a, edr_log_misc)) &&
    !anyContains(exe(p), edr_log_misc) &&
    !cmdline(p).startsWith('/usr/bin/dpkg --print-foreign-architectures') &&
    !cmdline(p).startsWith('/usr/bin/apt-get --print-foreign-architectures') &&
    !args(p).includes('/sbin/ldconfig -p') &&
    !heartbeat &&
    !containerInit
  );
}

// Macros (final definitions: ttps.yaml's where both files define one).
// open_write: sf.opflags in (write_send) [list: WRITE, SEND] or (OPEN and openflags CREAT) or sed_write
const openWrite = (v: SfRecordView): boolean =>
  (flags(v) & WRITE) !== 0 || ((flags(v) & OPEN) !== 0 && v.obj.type === 'FF' && (openFlags(v) & O_CREAT) !== 0) ||
  (exe(v.proc).includes('sed') && args(v.proc).includes('-i'));
// open_read: sf.file.is_open_read = true or sf.opflags = read_recv (a literal: never equal)
const openRead = (v: SfRecordView): boolean => (openFlags(v) & O_RDONLY) !== 0;
const sensitiveFiles = (v: SfRecordView): boolean => path(v).startsWith('/etc') && sys_password_files.includes(path(v));
const binDir = (v: SfRecordView): boolean => ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'].some((d) => dir(v).startsWith(d));
const systemDir = (v: SfRecordView): boolean => system_directories.includes(dir(v)) || (path(v).startsWith('/home') && path(v).includes('.ssh'));
const possiblyWebserver = (v: SfRecordView): boolean =>
  anyContains(name(v.proc), http_server_binaries) || (name(v.pproc).includes('java') && cmdline(v.pproc).includes('org.apache.catalina.startup.Bootstrap'));
const javaPackageInstaller = (v: SfRecordView): boolean => (name(v.proc) === 'java' && cmdline(v.proc).includes('sbt-launch.jar')) || name(v.proc) === 'mvn';
// `container` is `sf.container.type != host`: the type is DOCKER/... or '' on the host, never "host".
const container = (_v: SfRecordView): boolean => true;
const isExec = (v: SfRecordView): boolean => (flags(v) & EXEC) !== 0;
const suspiciousNames = [...shell_binaries, ...compilers, 'pkg_mgmt_binaries', ...shell_interpreters, ...coreutils_mod_binaries];

export interface Witness {
  readonly rule: string;
  readonly file: 'runtimeintegrity.yaml' | 'ttps.yaml';
  readonly prefilter: readonly string[];
  readonly test: (v: SfRecordView) => boolean;
}

export const WITNESSES: readonly Witness[] = [
  {
    rule: 'Suspicious process spawned', file: 'runtimeintegrity.yaml', prefilter: ['PE'],
    test: (v) => isExec(v) && exe(v.proc) !== exe(v.pproc) && exe(v.pproc) !== '/usr/local/sbin/runc' && anyContains(name(v.proc), suspiciousNames),
  },
  {
    rule: 'Suspicious process spawned', file: 'ttps.yaml', prefilter: ['PE'],
    test: (v) => isExec(v) && exe(v.proc) !== exe(v.pproc) &&
      !(exe(v.pproc) === '/usr/local/sbin/runc' || exe(v.proc).includes('cgi-bin')) &&
      suspiciousNames.includes(name(v.proc)) && !entrypoint(v),
  },
  {
    rule: 'Shell started by container entry point', file: 'ttps.yaml', prefilter: ['PE'],
    test: (v) => isExec(v) && container(v) && name(v.pproc) === 'node' && shell_binaries.includes(name(v.proc)),
  },
  {
    rule: 'System Information Discovery', file: 'ttps.yaml', prefilter: ['PE'],
    test: (v) => isExec(v) && system_discovery_cmds.includes(name(v.proc)),
  },
  {
    rule: 'Account Discovery: Local Account', file: 'ttps.yaml', prefilter: ['PE'],
    test: (v) => isExec(v) && discovery_cmds.includes(name(v.proc)) && sys_password_files.includes(args(v.proc)),
  },
  {
    // inbound_outbound reduces to `sf.opflags in (ACCEPT,CONNECT)`: its other disjunct needs the
    // unknown attribute sf.file.typechar, a literal that never equals 4 or 6.
    rule: 'Command and Scripting Interpreter', file: 'ttps.yaml', prefilter: [],
    test: (v) => shell_binaries.includes(name(v.proc)) && (flags(v) & (ACCEPT | CONNECT)) !== 0 && name(v.proc) !== 'login' && !entrypoint(v),
  },
  {
    rule: 'Untrusted read sensitive file', file: 'runtimeintegrity.yaml', prefilter: ['FF'],
    test: (v) => sensitiveFiles(v) && openRead(v) && !privileged_processes.includes(exe(v.proc)) && !auth_processes.includes(exe(v.proc)),
  },
  {
    rule: 'Untrusted read sensitive file', file: 'ttps.yaml', prefilter: [],
    test: (v) => sensitiveFiles(v) && openRead(v) && !privileged_processes.includes(exe(v.proc)) && !auth_processes.includes(exe(v.proc)) &&
      [...coreutils_binaries, ...user_mgmt_binaries].includes(name(v.proc)) && !entrypoint(v),
  },
  {
    rule: 'Webserver writing file', file: 'runtimeintegrity.yaml', prefilter: ['FF'],
    test: (v) => v.file?.restype === 102 && openWrite(v) && possiblyWebserver(v) && !anyContains(path(v), log_paths),
  },
  {
    rule: 'Webserver writing unusual file', file: 'ttps.yaml', prefilter: ['FF'],
    test: (v) => v.file?.restype === 102 && openWrite(v) && possiblyWebserver(v) && !anyContains(path(v), log_paths) && !entrypoint(v),
  },
  {
    rule: 'Unauthorized installer detected', file: 'runtimeintegrity.yaml', prefilter: ['PE'],
    test: (v) => isExec(v) && (anyContains(name(v.proc), package_mgmt_binaries) || javaPackageInstaller(v)) && container(v),
  },
  {
    // `java_package_installer` inside pmatch(...) is a macro name used as a list item: a literal.
    rule: 'Unauthorized installer detected', file: 'ttps.yaml', prefilter: ['PE'],
    test: (v) => isExec(v) && anyContains(name(v.proc), [...package_mgmt_binaries, 'java_package_installer']) && container(v),
  },
  {
    rule: 'Privilege escalation', file: 'ttps.yaml', prefilter: [],
    test: (v) => (v.pproc ? v.pproc.uid : 0) !== 0 && (v.proc ? v.proc.uid : 0) === 0 && !entrypoint(v),
  },
  {
    rule: 'Write Below RPM/DPKG Database', file: 'runtimeintegrity.yaml', prefilter: ['FF', 'FE'],
    test: (v) => (path(v).startsWith('/var/lib/rpm') || path(v).startsWith('/var/lib/dpkg')) && openWrite(v),
  },
  {
    rule: 'Write Below RPM/DPKG Database', file: 'ttps.yaml', prefilter: [],
    test: (v) => (path(v).startsWith('/var/lib/rpm') || path(v).startsWith('/var/lib/dpkg')) && openWrite(v),
  },
  { rule: 'Write below binary dir', file: 'runtimeintegrity.yaml', prefilter: ['FF', 'FE'], test: (v) => openWrite(v) && binDir(v) },
  { rule: 'Write below binary dir', file: 'ttps.yaml', prefilter: [], test: (v) => openWrite(v) && binDir(v) },
  {
    rule: 'Write below system dirs', file: 'runtimeintegrity.yaml', prefilter: ['FF', 'FE'],
    test: (v) => openWrite(v) && systemDir(v) && !privileged_processes.includes(exe(v.proc)),
  },
  {
    rule: 'Write below system dirs', file: 'ttps.yaml', prefilter: [],
    test: (v) => openWrite(v) && systemDir(v) && !privileged_processes.includes(exe(v.proc)),
  },
];

/** Witness output lines for one trace, in the golden file's format. */
export function witnessLines(trace: string, views: Iterable<SfRecordView>): string[] {
  const out: string[] = [];
  for (const v of views) {
    if (!whitelisted(v)) continue;
    for (const w of WITNESSES) {
      if (w.prefilter.length > 0 && !w.prefilter.includes(v.type)) continue;
      if (w.test(v)) out.push(`${trace} ${v.index} ${v.type} ${w.rule} @${w.file}`);
    }
  }
  return out;
}
