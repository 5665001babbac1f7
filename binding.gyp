# ferry_native: the storage engine's native addon (CRC32C and file syscalls),
# built by scripts/build-native.mjs into build/Release/ferry_native.node and
# loaded by src/storage/native.ts.
#
# C++ exceptions are on (NAPI_CPP_EXCEPTIONS): argument errors are thrown as
# Napi::TypeError / Napi::RangeError and become JavaScript exceptions.
# SSE4.2 is not enabled globally: only the CRC functions carry
# __attribute__((target("sse4.2"))), chosen at run time, so the binary still
# loads on a CPU without it.
{
  'targets': [
    {
      'target_name': 'ferry_native',
      'sources': [
        'native/addon.cc',
        'native/args.cc',
        'native/crc32c_binding.cc',
        'native/crc32c_software.cc',
        'native/crc32c_sse42.cc',
        'native/errors.cc',
        'native/fdatasync.cc',
        'native/file_io.cc',
        'native/sendfile.cc',
      ],
      'include_dirs': [
        "<!(node -p \"require('node-addon-api').include_dir\")",
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
        '_FILE_OFFSET_BITS=64',
        '_GNU_SOURCE',
      ],
      'cflags!': ['-fno-exceptions', '-O2'],
      'cflags_cc!': ['-fno-exceptions', '-O2'],
      'cflags': ['-O3', '-fvisibility=hidden', '-Wall', '-Wextra'],
      'cflags_cc': ['-fexceptions'],
    },
  ],
}
