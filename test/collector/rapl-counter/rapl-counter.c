/*
 * A RAPL energy counter whose value is the truth at the moment it is read: a FUSE filesystem of
 * one file, `energy_uj`, that reads E0 + P × t µJ (t since the mount, CLOCK_MONOTONIC; modulo the
 * counter's range, as the hardware wraps). The stand-in driver that rewrites a plain file every
 * millisecond shows an older value whenever it waits to be scheduled (up to a second on a busy
 * machine); this one is computed in the read itself, so a window of one second is exact however
 * busy the machine. Reads bypass the page cache (direct_io), as sysfs attributes do.
 *
 *   gcc -O2 -Wall -o rapl-counter rapl-counter.c $(pkg-config --cflags --libs fuse3)
 *   RAPL_WATTS=40 RAPL_START_UJ=1000000000 RAPL_RANGE_UJ=262143328850 ./rapl-counter <mnt> -f -s -o auto_unmount
 *
 * Test code of ours (Debian's libfuse3-dev and fuse3), written for these tests.
 */
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double watts = 40.0;
static double start_uj = 1e9;
static double range_uj = 262143328850.0;
static struct timespec t0;

static unsigned long long now_uj(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  double s = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
  double uj = start_uj + watts * s * 1e6;
  while (uj >= range_uj) uj -= range_uj;
  return (unsigned long long)uj;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  memset(st, 0, sizeof *st);
  if (strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    return 0;
  }
  if (strcmp(path, "/energy_uj") == 0) {
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = 4096; /* as sysfs reports its attributes */
    return 0;
  }
  return -ENOENT;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  if (strcmp(path, "/") != 0) return -ENOENT;
  fill(buf, ".", NULL, 0, 0);
  fill(buf, "..", NULL, 0, 0);
  fill(buf, "energy_uj", NULL, 0, 0);
  return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
  if (strcmp(path, "/energy_uj") != 0) return -ENOENT;
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EACCES;
  fi->direct_io = 1;
  fi->keep_cache = 0;
  return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  if (strcmp(path, "/energy_uj") != 0) return -ENOENT;
  char text[32];
  int n = snprintf(text, sizeof text, "%llu\n", now_uj());
  if (off >= n) return 0;
  size_t len = (size_t)(n - off) < size ? (size_t)(n - off) : size;
  memcpy(buf, text + off, len);
  return (int)len;
}

static const struct fuse_operations ops = {
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
};

int main(int argc, char *argv[]) {
  const char *w = getenv("RAPL_WATTS");
  const char *s = getenv("RAPL_START_UJ");
  const char *r = getenv("RAPL_RANGE_UJ");
  if (w) watts = atof(w);
  if (s) start_uj = atof(s);
  if (r) range_uj = atof(r);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  return fuse_main(argc, argv, &ops, NULL);
}
