# binding.gyp — CPU-only fallback build of the addon with node-gyp (npm run build:gyp), used
# when CMake is missing. Same sources as CMakeLists.txt + native/CMakeLists.txt minus CUDA;
# test/unit/build-sources.test.ts fails if the lists drift. No system BLAS here: op gemm runs its
# builtin kernels only (DEBORA_HAVE_BLAS undefined), which keeps this build free of -dev packages.
{
  "targets": [
    {
      "target_name": "debora",
      "sources": [
        "bindings/addon.cpp",
        "bindings/errors.cpp",
        "bindings/runtime.cpp",
        "bindings/cp_hypergrad.cpp",
        "bindings/cp_linear.cpp",
        "bindings/cp_conv2d.cpp",
        "bindings/cp_materialize.cpp",
        "bindings/cp_mttkrp.cpp",
        "bindings/cp_tangent.cpp",
        "bindings/gemm.cpp",
        "bindings/conv2d.cpp",
        "bindings/relu.cpp",
        "bindings/max_pool2d.cpp",
        "bindings/cuda_buffer.cpp",
        "native/cpu/status.cpp",
        "native/cpu/runtime.cpp",
        "native/cpu/thread_pool.cpp",
        "native/cpu/roofline.cpp",
        "native/cpu/cp_hypergrad.cpp",
        "native/cpu/cp_linear.cpp",
        "native/cpu/cp_conv2d.cpp",
        "native/cpu/cp_materialize.cpp",
        "native/cpu/cp_mttkrp.cpp",
        "native/cpu/cp_tangent.cpp",
        "native/cpu/gemm.cpp",
        "native/cpu/conv2d.cpp",
        "native/cpu/relu.cpp",
        "native/cpu/max_pool2d.cpp",
        "native/cuda/unavailable.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "DEBORA_BUILD_TOOL=\"node-gyp\"",
        "DEBORA_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    }
  ]
}
