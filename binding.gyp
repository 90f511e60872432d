{
  # The C sources come from csrc/sources.mk, the one list shared with make.
  # Three switches, all read from the environment by scripts/build-addon.js so a
  # plain `node-gyp rebuild` (prebuildify's) sees the same (README.md, "Installing the npm package"):
  #   ge_werror       1 only when GE_WERROR=1 (scripts/test.sh, scripts/prebuild.sh);
  #                   never in a user's install, even from a git URL, where a
  #                   newer compiler's new warning must not fail it.
  #   ge_curl_prefix  a static libcurl + OpenSSL from scripts/build-curl.sh
  #                   (GE_CURL_PREFIX); empty: the system's -lcurl.
  #   ge_daemon       1 when hiredis', libevent's, http-parser's and libcurl's headers are there: the
  #                   daemon is optional for a Node service that only wants Client.
  'variables': {
    'ge_werror%': '<!(node scripts/build-addon.js --print werror)',
    'ge_curl_prefix%': '<!(node scripts/build-addon.js --print curl-prefix)',
    'ge_daemon%': '<!(node scripts/build-addon.js --print daemon)',
  },
  'target_defaults': {
    'include_dirs': ['<!@(make -s -f csrc/sources.mk print-INC)', 'server'],
    'defines': ['_GNU_SOURCE'],
    'cflags_c': ['-std=c11', '-Wall', '-Wextra'],
    'cflags': ['-fPIC'],
    'conditions': [
      ['ge_werror==1', {'cflags_c': ['-Werror'], 'cflags_cc': ['-Werror']}],
    ],
  },
  'targets': [
    {
      'target_name': 'ganomede_events',
      'sources': [
        'napi/addon.cc',
        'napi/uv_driver.cc',
        '<!@(make -s -f csrc/sources.mk print-COMMON)',
        '<!@(make -s -f csrc/sources.mk print-CLIENT)',
      ],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': ['NAPI_DISABLE_CPP_EXCEPTIONS', 'NAPI_VERSION=8', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      'cflags': ['-fvisibility=hidden'],
      'cflags_cc': ['-std=c++17', '-Wall', '-Wextra', '-fvisibility=hidden'],
      # The addon exports Node-API's entry points and nothing else (napi/addon.map),
      # so its libcurl and OpenSSL can never stand in for the OpenSSL Node exports.
      'ldflags': ['-Wl,--version-script=<(module_root_dir)/napi/addon.map'],
      'conditions': [
        ['ge_curl_prefix!=""', {
          'include_dirs': ['<(ge_curl_prefix)/include'],
          'defines': ['CURL_STATICLIB'],
          'ldflags': ['-Wl,--exclude-libs,ALL'],
          'libraries': [
            '<(ge_curl_prefix)/lib/libcurl.a',
            '<(ge_curl_prefix)/lib/libssl.a',
            '<(ge_curl_prefix)/lib/libcrypto.a',
            '-lpthread', '-ldl',
          ],
        }, {
          'libraries': ['-lcurl'],
        }],
      ],
    },
  ],
  'conditions': [
    ['ge_daemon==1', {
      'targets': [
        {
          'target_name': 'ganomede-events-server',
          'type': 'executable',
          'sources': [
            '<!@(make -s -f csrc/sources.mk print-COMMON)',
            '<!@(make -s -f csrc/sources.mk print-SERVICE)',
            '<!@(make -s -f csrc/sources.mk print-DAEMON)',
            '<!@(make -s -f csrc/sources.mk print-DAEMON_ASM)',
          ],
          'libraries': ['-lhttp_parser', '-lhiredis', '-levent', '-lcurl', '-lm'],
        },
      ],
    }],
  ],
}
