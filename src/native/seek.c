/*
 * qcow2_seek: SEEK_DATA / SEEK_HOLE on an open file descriptor, for Node (which has no lseek).
 * The engine uses it to see holes in image and raw files the way qemu-img's file driver does.
 * Both functions return the resulting offset, or -1 with ENXIO (no data/hole at or after the offset),
 * or throw for other errors. copyFileRange wraps copy_file_range(2), so convert copies data in the kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>

static napi_value do_seek(napi_env env, napi_callback_info info, int whence) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "expected (fd, offset)");
    return NULL;
  }
  int32_t fd;
  double offset;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_double(env, argv[1], &offset) != napi_ok) {
    napi_throw_type_error(env, NULL, "fd and offset must be numbers");
    return NULL;
  }
  off_t r = lseek(fd, (off_t)offset, whence);
  napi_value out;
  if (r < 0) {
    if (errno == ENXIO) {
      napi_create_double(env, -1, &out);
      return out;
    }
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  napi_create_double(env, (double)r, &out);
  return out;
}

static napi_value seek_data(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_DATA); }
static napi_value seek_hole(napi_env env, napi_callback_info info) { return do_seek(env, info, SEEK_HOLE); }

/* copyFileRange(fdIn, offIn, fdOut, offOut, length): bytes copied (short only at end of input), or throws. */
static napi_value copy_range(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd_in, fd_out;
  double off_in_d, off_out_d, len_d;
  if (argc < 5 || napi_get_value_int32(env, argv[0], &fd_in) != napi_ok || napi_get_value_double(env, argv[1], &off_in_d) != napi_ok ||
      napi_get_value_int32(env, argv[2], &fd_out) != napi_ok || napi_get_value_double(env, argv[3], &off_out_d) != napi_ok ||
      napi_get_value_double(env, argv[4], &len_d) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected (fdIn, offIn, fdOut, offOut, length)");
    return NULL;
  }
  off_t off_in = (off_t)off_in_d, off_out = (off_t)off_out_d;
  size_t left = (size_t)len_d, done = 0;
  while (left > 0) {
    ssize_t n = copy_file_range(fd_in, &off_in, fd_out, &off_out, left, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      napi_throw_error(env, NULL, strerror(errno));
      return NULL;
    }
    if (n == 0) break;
    done += (size_t)n;
    left -= (size_t)n;
  }
  napi_value out;
  napi_create_double(env, (double)done, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "seekData", NULL, seek_data, NULL, NULL, NULL, napi_default, NULL },
    { "seekHole", NULL, seek_hole, NULL, NULL, NULL, napi_default, NULL },
    { "copyFileRange", NULL, copy_range, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
