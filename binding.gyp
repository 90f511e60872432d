{
  # The C sources come from csrc/sources.mk, the one list shared with make.
  'target_defaults': {
    'include_dirs': ['<!@(make -s -f csrc/sources.mk print-INC)', 'server'],
    'defines': ['_GNU_SOURCE'],
    'cflags_c': ['-std=c11', '-Wall', '-Wextra', '-Werror'],
    'cflags': ['-fPIC'],
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
      'cflags_cc': ['-std=c++17', '-Wall', '-Wextra', '-Werror'],
      'libraries': ['-lcurl'],
    },
    {
      'target_name': 'ganomede-events-server',
      'type': 'executable',
      'sources': [
        '<!@(make -s -f csrc/sources.mk print-COMMON)',
        '<!@(make -s -f csrc/sources.mk print-SERVICE)',
        '<!@(make -s -f csrc/sources.mk print-DAEMON)',
      ],
      'libraries': ['-lhiredis', '-levent', '-lcurl', '-lm'],
    },
  ],
}
