/*
 * daxguest: the guest side of daxcheck's real-DAX oracle (checker/oracle/qemu).
 *
 * Runs as PID 1's last step inside a QEMU guest whose initramfs loaded the NVDIMM and XFS
 * modules.  Reads one command per line from the command port (the second serial port,
 * /dev/ttyS1, put in raw mode) and answers each with exactly one line:
 *
 *     ok [key=value ...]        the operation succeeded
 *     err ERRNO [what]          the syscall failed with ERRNO (decimal), or a store/load
 *                               through a mapping raised SIGBUS (ERRNO = -7)
 *
 * Files are /mnt/f0 .. /mnt/f{N-1}; offsets and lengths are bytes.  Each file has at most
 * one mapping at a time (offset 0, the length given to `mmap`).  Contents are reported by
 * `state` as one byte per 2048-byte segment of the file's i_size (hex, "xx" for a segment
 * whose bytes are not all equal), so the host never reads raw data over the serial port.
 *
 * Built statically with gcc by `daxcheck kernel setup`; no other code from outside the
 * project runs in the guest besides busybox, xfsprogs and ndctl from Debian.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif
#ifndef FS_XFLAG_DAX
#define FS_XFLAG_DAX 0x00008000
#endif

#define MAXF 4
#define SEG 2048
#define MAXSEGS 4096

static int fds[MAXF] = {-1, -1, -1, -1};
static char *maps[MAXF];
static size_t maplen[MAXF];
static int nfiles;
static FILE *out;
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t in_access;

static void on_sigbus(int sig)
{
	(void)sig;
	if (in_access)
		siglongjmp(bus_jmp, 1);
	_exit(99);
}

static void reply_err(int e, const char *what)
{
	fprintf(out, "err %d %s\n", e, what);
}

static void path_of(int f, char *buf, size_t n)
{
	snprintf(buf, n, "/mnt/f%d", f);
}

static int run(char *const argv[])
{
	pid_t pid = fork();
	int st;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 1);
		dup2(nul, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void drop_maps(void)
{
	for (int f = 0; f < MAXF; f++) {
		if (maps[f])
			munmap(maps[f], maplen[f]);
		maps[f] = NULL;
		maplen[f] = 0;
	}
}

static void close_all(void)
{
	drop_maps();
	for (int f = 0; f < MAXF; f++) {
		if (fds[f] >= 0)
			close(fds[f]);
		fds[f] = -1;
	}
}

static int bad_file(long f)
{
	if (f < 0 || f >= nfiles || fds[f] < 0) {
		fprintf(out, "err %d no-file\n", EBADF);
		return 1;
	}
	return 0;
}

/* One hex byte per 2 KiB segment of [0, size): the byte if all equal, "xx" otherwise. */
static void print_segments(const unsigned char *p, off_t size)
{
	fputs(" segs=", out);
	for (off_t o = 0; o < size; o += SEG) {
		off_t n = size - o < SEG ? size - o : SEG;
		int same = 1;
		for (off_t i = 1; i < n; i++)
			if (p[o + i] != p[o]) {
				same = 0;
				break;
			}
		if (o)
			fputc(',', out);
		if (same)
			fprintf(out, "%02x", p[o]);
		else
			fputs("xx", out);
	}
}

static void cmd_state(long f)
{
	struct stat st;
	struct statx sx;
	static unsigned char buf[MAXSEGS * SEG];
	char fmbuf[sizeof(struct fiemap) + 64 * sizeof(struct fiemap_extent)];
	struct fiemap *fm = (struct fiemap *)fmbuf;

	if (bad_file(f))
		return;
	if (fstat(fds[f], &st) < 0) {
		reply_err(errno, "fstat");
		return;
	}
	if (statx(fds[f], "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) < 0) {
		reply_err(errno, "statx");
		return;
	}
	if (st.st_size > (off_t)sizeof(buf)) {
		reply_err(EFBIG, "state-too-big");
		return;
	}
	ssize_t got = pread(fds[f], buf, st.st_size, 0);
	if (got != st.st_size) {
		reply_err(got < 0 ? errno : EIO, "pread");
		return;
	}
	memset(fm, 0, sizeof(fmbuf));
	fm->fm_start = 0;
	fm->fm_length = ~0ULL;
	fm->fm_flags = 0; /* no FIEMAP_FLAG_SYNC: on DAX it would write back and write-protect PTEs */
	fm->fm_extent_count = 64;
	if (ioctl(fds[f], FS_IOC_FIEMAP, fm) < 0) {
		reply_err(errno, "fiemap");
		return;
	}
	fprintf(out, "ok size=%lld dax=%d ext=", (long long)st.st_size,
		(sx.stx_attributes & STATX_ATTR_DAX) ? 1 : 0);
	for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
		struct fiemap_extent *e = &fm->fm_extents[i];
		fprintf(out, "%s%llu:%llu:%llu:%x", i ? "," : "",
			(unsigned long long)e->fe_logical, (unsigned long long)e->fe_physical,
			(unsigned long long)e->fe_length, e->fe_flags);
	}
	if (!fm->fm_mapped_extents)
		fputc('-', out);
	print_segments(buf, st.st_size);
	fputc('\n', out);
}

static void cmd_reset(long n)
{
	char p[32];
	close_all();
	for (int f = 0; f < MAXF; f++) {
		path_of(f, p, sizeof(p));
		unlink(p);
	}
	if (n < 1 || n > MAXF) {
		reply_err(EINVAL, "nfiles");
		return;
	}
	nfiles = n;
	for (int f = 0; f < n; f++) {
		path_of(f, p, sizeof(p));
		fds[f] = open(p, O_RDWR | O_CREAT | O_EXCL, 0644);
		if (fds[f] < 0) {
			reply_err(errno, "create");
			return;
		}
	}
	/* a sequence starts from a durable state: the unlinks and creates are in the log */
	if (syncfs(fds[0]) < 0) {
		reply_err(errno, "syncfs");
		return;
	}
	fprintf(out, "ok\n");
}

static void cmd_reopen(long n)
{
	char p[32];
	close_all();
	nfiles = n;
	for (int f = 0; f < n && f < MAXF; f++) {
		path_of(f, p, sizeof(p));
		fds[f] = open(p, O_RDWR);
		if (fds[f] < 0) {
			reply_err(errno, "open");
			return;
		}
	}
	fprintf(out, "ok\n");
}

static void cmd_mmap(long f, long kind, long len)
{
	int flags = kind == 1 ? (MAP_SHARED_VALIDATE | MAP_SYNC)
		  : kind == 2 ? MAP_PRIVATE : MAP_SHARED;
	if (bad_file(f))
		return;
	if (maps[f]) {
		munmap(maps[f], maplen[f]);
		maps[f] = NULL;
	}
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fds[f], 0);
	if (p == MAP_FAILED) {
		reply_err(errno, "mmap");
		return;
	}
	maps[f] = p;
	maplen[f] = len;
	fprintf(out, "ok\n");
}

static int bad_map(long f, long off, long len)
{
	if (bad_file(f))
		return 1;
	if (!maps[f] || off < 0 || len < 0 || (size_t)(off + len) > maplen[f]) {
		fprintf(out, "err %d no-map\n", EFAULT);
		return 1;
	}
	return 0;
}

static void cmd_store(long f, long off, long len, long byte)
{
	if (bad_map(f, off, len))
		return;
	if (sigsetjmp(bus_jmp, 1)) {
		in_access = 0;
		fprintf(out, "err -7 sigbus\n");
		return;
	}
	in_access = 1;
	memset(maps[f] + off, (int)byte, len);
	in_access = 0;
	fprintf(out, "ok\n");
}

/* A write fault with no new data: store back the byte the page holds at off. */
static void cmd_touch(long f, long off)
{
	if (bad_map(f, off, 1))
		return;
	if (sigsetjmp(bus_jmp, 1)) {
		in_access = 0;
		fprintf(out, "err -7 sigbus\n");
		return;
	}
	in_access = 1;
	volatile char *p = maps[f] + off;
	*p = *p;
	in_access = 0;
	fprintf(out, "ok\n");
}

static void cmd_load(long f, long off, long len)
{
	static unsigned char buf[MAXSEGS * SEG];
	if (bad_map(f, off, len) || len > (long)sizeof(buf))
		return;
	if (sigsetjmp(bus_jmp, 1)) {
		in_access = 0;
		fprintf(out, "err -7 sigbus\n");
		return;
	}
	in_access = 1;
	memcpy(buf, maps[f] + off, len);
	in_access = 0;
	fputs("ok", out);
	print_segments(buf, len);
	fputc('\n', out);
}

static void cmd_pwrite(long f, long off, long len, long byte)
{
	static unsigned char buf[MAXSEGS * SEG];
	if (bad_file(f))
		return;
	if (len > (long)sizeof(buf)) {
		reply_err(EINVAL, "len");
		return;
	}
	memset(buf, (int)byte, len);
	ssize_t n = pwrite(fds[f], buf, len, off);
	if (n < 0)
		reply_err(errno, "pwrite");
	else
		fprintf(out, "ok n=%zd\n", n);
}

static void cmd_pread(long f, long off, long len)
{
	static unsigned char buf[MAXSEGS * SEG];
	if (bad_file(f))
		return;
	if (len > (long)sizeof(buf)) {
		reply_err(EINVAL, "len");
		return;
	}
	ssize_t n = pread(fds[f], buf, len, off);
	if (n < 0) {
		reply_err(errno, "pread");
		return;
	}
	fprintf(out, "ok n=%zd", n);
	print_segments(buf, n);
	fputc('\n', out);
}

static void cmd_dedupe(long src, long soff, long len, long dst, long doff)
{
	char b[sizeof(struct file_dedupe_range) + sizeof(struct file_dedupe_range_info)];
	struct file_dedupe_range *r = (struct file_dedupe_range *)b;
	if (bad_file(src) || bad_file(dst))
		return;
	memset(b, 0, sizeof(b));
	r->src_offset = soff;
	r->src_length = len;
	r->dest_count = 1;
	r->info[0].dest_fd = fds[dst];
	r->info[0].dest_offset = doff;
	if (ioctl(fds[src], FIDEDUPERANGE, r) < 0) {
		reply_err(errno, "dedupe");
		return;
	}
	if (r->info[0].status < 0)
		reply_err(-r->info[0].status, "dedupe-status");
	else
		fprintf(out, "ok same=%d n=%llu\n",
			r->info[0].status == FILE_DEDUPE_RANGE_SAME,
			(unsigned long long)r->info[0].bytes_deduped);
}

static void cmd_daxflag(long f, long on)
{
	struct fsxattr fa;
	if (bad_file(f))
		return;
	if (ioctl(fds[f], FS_IOC_FSGETXATTR, &fa) < 0) {
		reply_err(errno, "getxattr");
		return;
	}
	if (on)
		fa.fsx_xflags |= FS_XFLAG_DAX;
	else
		fa.fsx_xflags &= ~FS_XFLAG_DAX;
	if (ioctl(fds[f], FS_IOC_FSSETXATTR, &fa) < 0)
		reply_err(errno, "setxattr");
	else
		fprintf(out, "ok\n");
}

static void cmd_mkfs(const char *fs)
{
	char *xfs[] = {"/sbin/mkfs.xfs", "-q", "-f", "-m", "reflink=1", "/dev/pmem0", NULL};
	char *ext4[] = {"/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "/dev/pmem0", NULL};
	close_all();
	umount("/mnt");
	int rc = run(strcmp(fs, "ext4") == 0 ? ext4 : xfs);
	if (rc != 0)
		fprintf(out, "err %d mkfs-exit-%d\n", EIO, rc);
	else
		fprintf(out, "ok\n");
}

static void cmd_mount(const char *fs, const char *opts)
{
	close_all();
	umount("/mnt");
	if (mount("/dev/pmem0", "/mnt", fs, MS_NOATIME, strcmp(opts, "-") ? opts : NULL) < 0)
		reply_err(errno, "mount");
	else
		fprintf(out, "ok\n");
}

static void cmd_shutdown(void)
{
	/* XFS_IOC_GOINGDOWN with XFS_FSOP_GOING_FLAGS_NOLOGFLUSH: the log is not forced. */
	uint32_t flags = 0x2;
	int fd = open("/mnt", O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ioctl(fd, 0x8004587D, &flags) < 0)
		reply_err(errno, "goingdown");
	else
		fprintf(out, "ok\n");
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	const char *port = argc > 1 ? argv[1] : "/dev/ttyS1";
	int fd = open(port, O_RDWR | O_NOCTTY);
	struct termios t;
	struct sigaction sa;
	struct utsname u;
	char line[512];

	if (fd < 0) {
		perror(port);
		return 1;
	}
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetispeed(&t, B115200);
		cfsetospeed(&t, B115200);
		tcsetattr(fd, TCSANOW, &t);
	}
	FILE *in = fdopen(fd, "r");
	out = fdopen(dup(fd), "w");
	setvbuf(out, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	uname(&u);
	fprintf(out, "ready %s\n", u.release);

	while (fgets(line, sizeof(line), in)) {
		char op[32] = "", s1[64] = "", s2[128] = "";
		long a[5] = {0, 0, 0, 0, 0};
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		sscanf(line, "%31s", op);
		int n = sscanf(line, "%*s %ld %ld %ld %ld %ld", &a[0], &a[1], &a[2], &a[3], &a[4]);
		(void)n;
		errno = 0;
		if (!strcmp(op, "ping")) {
			fprintf(out, "ok\n");
		} else if (!strcmp(op, "reset")) {
			cmd_reset(a[0]);
		} else if (!strcmp(op, "reopen")) {
			cmd_reopen(a[0]);
		} else if (!strcmp(op, "state")) {
			cmd_state(a[0]);
		} else if (!strcmp(op, "pwrite")) {
			cmd_pwrite(a[0], a[1], a[2], a[3]);
		} else if (!strcmp(op, "pread")) {
			cmd_pread(a[0], a[1], a[2]);
		} else if (!strcmp(op, "mmap")) {
			cmd_mmap(a[0], a[1], a[2]);
		} else if (!strcmp(op, "munmap")) {
			if (!bad_file(a[0])) {
				if (maps[a[0]])
					munmap(maps[a[0]], maplen[a[0]]);
				maps[a[0]] = NULL;
				fprintf(out, "ok\n");
			}
		} else if (!strcmp(op, "store")) {
			cmd_store(a[0], a[1], a[2], a[3]);
		} else if (!strcmp(op, "touch")) {
			cmd_touch(a[0], a[1]);
		} else if (!strcmp(op, "load")) {
			cmd_load(a[0], a[1], a[2]);
		} else if (!strcmp(op, "msync")) {
			if (!bad_map(a[0], 0, 0)) {
				if (msync(maps[a[0]], maplen[a[0]], MS_SYNC) < 0)
					reply_err(errno, "msync");
				else
					fprintf(out, "ok\n");
			}
		} else if (!strcmp(op, "falloc")) {
			if (!bad_file(a[0])) {
				if (fallocate(fds[a[0]], (int)a[1], a[2], a[3]) < 0)
					reply_err(errno, "fallocate");
				else
					fprintf(out, "ok\n");
			}
		} else if (!strcmp(op, "clone")) {
			if (!bad_file(a[0]) && !bad_file(a[1])) {
				if (ioctl(fds[a[1]], FICLONE, fds[a[0]]) < 0)
					reply_err(errno, "ficlone");
				else
					fprintf(out, "ok\n");
			}
		} else if (!strcmp(op, "clonerange")) {
			/* clonerange SRC SOFF LEN DST DOFF */
			if (!bad_file(a[0]) && !bad_file(a[3])) {
				struct file_clone_range r = {.src_fd = fds[a[0]], .src_offset = a[1],
							     .src_length = a[2], .dest_offset = a[4]};
				if (ioctl(fds[a[3]], FICLONERANGE, &r) < 0)
					reply_err(errno, "ficlonerange");
				else
					fprintf(out, "ok\n");
			}
		} else if (!strcmp(op, "dedupe")) {
			cmd_dedupe(a[0], a[1], a[2], a[3], a[4]);
		} else if (!strcmp(op, "fsync") || !strcmp(op, "fdatasync")) {
			if (!bad_file(a[0])) {
				int r = op[1] == 's' ? fsync(fds[a[0]]) : fdatasync(fds[a[0]]);
				if (r < 0)
					reply_err(errno, op);
				else
					fprintf(out, "ok\n");
			}
		} else if (!strcmp(op, "ftrunc")) {
			if (!bad_file(a[0])) {
				if (ftruncate(fds[a[0]], a[1]) < 0)
					reply_err(errno, "ftruncate");
				else
					fprintf(out, "ok\n");
			}
		} else if (!strcmp(op, "daxflag")) {
			cmd_daxflag(a[0], a[1]);
		} else if (!strcmp(op, "syncfs")) {
			sync();
			fprintf(out, "ok\n");
		} else if (!strcmp(op, "mkfs")) {
			sscanf(line, "%*s %63s", s1);
			cmd_mkfs(s1);
		} else if (!strcmp(op, "mount")) {
			sscanf(line, "%*s %63s %127s", s1, s2);
			cmd_mount(s1, s2);
		} else if (!strcmp(op, "umount")) {
			close_all();
			if (umount("/mnt") < 0)
				reply_err(errno, "umount");
			else
				fprintf(out, "ok\n");
		} else if (!strcmp(op, "shutdown")) {
			cmd_shutdown();
		} else if (!strcmp(op, "poweroff")) {
			close_all();
			umount("/mnt");
			sync();
			fprintf(out, "ok\n");
			fflush(out);
			reboot(RB_POWER_OFF);
		} else {
			reply_err(EINVAL, "unknown-command");
		}
		fflush(out);
	}
	return 0;
}
