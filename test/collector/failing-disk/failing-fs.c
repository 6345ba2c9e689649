/*
 * A disk that fails on demand, for the collector's spool: a FUSE filesystem passing every
 * operation through to a backing directory, until the file named by $FAILING_FS_FLAG exists —
 * then every operation (but the mount root's getattr) fails with EIO, as a dying disk's do, and
 * works again once the file is gone. The kernel sees real EIOs: the collector meets them through
 * its ordinary fs calls, nothing in it is replaced.
 *
 *   gcc -O2 -Wall -o failing-fs failing-fs.c $(pkg-config --cflags --libs fuse3)
 *   FAILING_FS_FLAG=/tmp/flag ./failing-fs <backing dir> <mountpoint> -f -s -o auto_unmount
 *
 * Test code of ours (Debian's libfuse3-dev and fuse3), written for this test.
 */
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

static char backing[PATH_MAX];
static const char *flag;

static int failing(void) {
  return flag != NULL && access(flag, F_OK) == 0;
}

static void real(char out[PATH_MAX], const char *path) {
  snprintf(out, PATH_MAX, "%s%s", backing, path);
}

#define FAIL_IF_FAILING() \
  do {                    \
    if (failing()) return -EIO; \
  } while (0)

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, "/") != 0) FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  return lstat(p, st) == -1 ? -errno : 0;
}

static int fs_access(const char *path, int mask) {
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  return access(p, mask) == -1 ? -errno : 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset, struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)offset;
  (void)fi;
  (void)flags;
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  DIR *d = opendir(p);
  if (d == NULL) return -errno;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = e->d_ino;
    st.st_mode = e->d_type << 12;
    if (fill(buf, e->d_name, &st, 0, 0)) break;
  }
  closedir(d);
  return 0;
}

static int fs_mkdir(const char *path, mode_t mode) {
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  return mkdir(p, mode) == -1 ? -errno : 0;
}

static int fs_unlink(const char *path) {
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  return unlink(p) == -1 ? -errno : 0;
}

static int fs_rmdir(const char *path) {
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  return rmdir(p) == -1 ? -errno : 0;
}

static int fs_rename(const char *from, const char *to, unsigned int flags) {
  FAIL_IF_FAILING();
  if (flags) return -EINVAL;
  char a[PATH_MAX], b[PATH_MAX];
  real(a, from);
  real(b, to);
  return rename(a, b) == -1 ? -errno : 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  FAIL_IF_FAILING();
  if (fi != NULL) return ftruncate((int)fi->fh, size) == -1 ? -errno : 0;
  char p[PATH_MAX];
  real(p, path);
  return truncate(p, size) == -1 ? -errno : 0;
}

static int fs_utimens(const char *path, const struct timespec ts[2], struct fuse_file_info *fi) {
  FAIL_IF_FAILING();
  if (fi != NULL) return futimens((int)fi->fh, ts) == -1 ? -errno : 0;
  char p[PATH_MAX];
  real(p, path);
  return utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == -1 ? -errno : 0;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  FAIL_IF_FAILING();
  if (fi != NULL) return fchmod((int)fi->fh, mode) == -1 ? -errno : 0;
  char p[PATH_MAX];
  real(p, path);
  return chmod(p, mode) == -1 ? -errno : 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  int fd = open(p, fi->flags, mode);
  if (fd == -1) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  int fd = open(p, fi->flags);
  if (fd == -1) return -errno;
  fi->fh = (uint64_t)fd;
  /* every read and write reaches this process (and so can fail), none is served from the page cache */
  fi->direct_io = 1;
  return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi) {
  (void)path;
  FAIL_IF_FAILING();
  ssize_t n = pread((int)fi->fh, buf, size, offset);
  return n == -1 ? -errno : (int)n;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info *fi) {
  (void)path;
  FAIL_IF_FAILING();
  /* O_APPEND is the kernel's to honour only with writeback caching: here, the backing fd's */
  ssize_t n = (fi->flags & O_APPEND) ? write((int)fi->fh, buf, size) : pwrite((int)fi->fh, buf, size, offset);
  return n == -1 ? -errno : (int)n;
}

static int fs_statfs(const char *path, struct statvfs *st) {
  FAIL_IF_FAILING();
  char p[PATH_MAX];
  real(p, path);
  return statvfs(p, st) == -1 ? -errno : 0;
}

static int fs_flush(const char *path, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  FAIL_IF_FAILING();
  return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  close((int)fi->fh);
  return 0;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  FAIL_IF_FAILING();
  int r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
  return r == -1 ? -errno : 0;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  /* no attribute or entry caching: a failing disk fails at once, for every call */
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->use_ino = 1;
  return NULL;
}

static const struct fuse_operations ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .access = fs_access,
    .readdir = fs_readdir,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .rename = fs_rename,
    .truncate = fs_truncate,
    .utimens = fs_utimens,
    .chmod = fs_chmod,
    .create = fs_create,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .statfs = fs_statfs,
    .flush = fs_flush,
    .release = fs_release,
    .fsync = fs_fsync,
};

int main(int argc, char *argv[]) {
  if (argc < 3) {
    fprintf(stderr, "usage: FAILING_FS_FLAG=<file> %s <backing dir> <mountpoint> [fuse options]\n", argv[0]);
    return 2;
  }
  if (realpath(argv[1], backing) == NULL) {
    perror(argv[1]);
    return 2;
  }
  flag = getenv("FAILING_FS_FLAG");
  /* fuse_main sees the program name, the mountpoint and the options: the backing dir is ours */
  argv[1] = argv[0];
  return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
