# meshd's native BPF addon: node-addon-api (C++17, C++ exceptions) over the system libbpf
# (Debian libbpf-dev 1.1.2, linked dynamically: -lbpf -lelf -lz). Build: `npx node-gyp rebuild`
# in this folder; the product is build/Release/meshd_bpf.node, loaded by index.ts.
{
  "targets": [
    {
      "target_name": "meshd_bpf",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/libbpf-log.cc",
        "src/type-names.cc",
        "src/native-object.cc",
        "src/native-map.cc",
        "src/native-map-bulk.cc",
        "src/native-program.cc",
        "src/native-link.cc",
        "src/native-ring-buffer.cc"
      ],
      # node-addon-api's headers by path, not through its gyp target: gyp would write that target's
      # makefiles beside its .gyp file, i.e. create bpf/node_modules/ outside this folder.
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # Node-API 8 is what Node 20 guarantees; nothing newer is used. C++ exceptions carry JS errors.
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-fvisibility=hidden"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    },
    # A second module with no libbpf: sockets bound with SO_REUSEPORT before Node adopts them
    # (dgram.bind({fd}), net.Server.listen({fd})), so a restarted proxy can take over a port
    # without a gap. Node 20's dgram and net have no reusePort option.
    {
      "target_name": "meshd_reuseport",
      "sources": ["src/reuseport-socket.cc", "src/socket-util.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # _GNU_SOURCE: src/socket-util.cc (shared with meshd_transparent) uses IP_TRANSPARENT.
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-fvisibility=hidden"]
    },
    # A third module with no libbpf: IP_TRANSPARENT listeners for BPF TPROXY (tc.bpf.c assigns
    # connections to pod addresses to them; docs/adr/0003). Node 20's net has no such option.
    {
      "target_name": "meshd_transparent",
      "sources": ["src/transparent-socket.cc", "src/socket-util.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-fvisibility=hidden"]
    }
  ]
}
