/*
 * qcow2_seek: SEEK_DATA / SEEK_HOLE on an open file descriptor, for Node (which has no lseek).
 * The engine uses it to see holes in image and raw files the way qemu-img's file driver does.
 * Both functions return the resulting offset, or -1 with ENXIO (no data/hole at or after the offset),
 * or throw for other errors.
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "seekData", NULL, seek_data, NULL, NULL, NULL, napi_default, NULL },
    { "seekHole", NULL, seek_hole, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
