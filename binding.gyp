{
  "targets": [
    {
      "target_name": "astraea",
      "sources": [
        "<!@(node -e \"const fs=require('fs');for(const d of ['cpp/core','cpp/core/kernels','cpp/napi'])for(const f of fs.readdirSync(d).sort())if(f.endsWith('.cc'))console.log(d+'/'+f)\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "cpp"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags": ["-O3", "-fno-math-errno"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-frtti", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread"]
    }
  ]
}
