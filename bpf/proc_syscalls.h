/* Exit shapes of the process monitor's syscall records (what the exit hook adds to the record),
 * shared by the BPF programs and the sensor, which fills the shared exit program's table. */
#ifndef FALCONET_PROC_SYSCALLS_H
#define FALCONET_PROC_SYSCALLS_H

enum proc_shape {
	SH_ARGS = 1,   /* integer arguments only */
	SH_PATH,       /* str0 = path0 at dfd0, str1 = path1 at dfd1 */
	SH_SYMLINK,    /* str0 = target as given, str1 = link path at dfd1 */
	SH_FD,         /* str0 = path of fd */
	SH_DUP,        /* str0 = path of the new fd (ret) */
	SH_CHDIR,      /* str0 = new cwd (success) or cwd + path (failure) */
	SH_CRED,       /* id_old / id_new */
	SH_PIPE,       /* a[0] = user int[2] → a[0], a[1] */
	SH_SOCKPAIR,   /* a[3] = user int[2] → a[3], a[4] */
	SH_MMAP,       /* str0 = path of fd a[4] unless anonymous */
	SH_MPROTECT,   /* str0 = file of the vma at a[0] */
	SH_SOCKADDR,   /* addr = user sockaddr (a[1], a[2]); addr2 = local side of fd */
	SH_SOCKFD,     /* addr = own address of fd (listen) */
	SH_PEER,       /* addr = peer, addr2 = local of the socket (ret fd for accept) */
	SH_EXEC_FAIL,  /* failed execve: str0 = path at, str1 = filename as given */
	SH_SETNS,      /* str0 = namespace type name of an nsfs fd (a[2] = its inode), else the fd's path */
	SH_CLONE_FAIL, /* failed clone */
};

/* cfg_sc_kind[nr] = ev | shape << 8 | need_pending << 16 (0: not a process-monitor syscall).
 * x86_64 syscall numbers are below P_SC_MAX. */
#define P_SC_MAX 512
#define P_SC_KIND(ev, shape, need) ((__u32)(ev) | (__u32)(shape) << 8 | (__u32)(need) << 16)

#endif
