// The throwaway burst driver docs/performance.md quotes ("What a burst of reads gets"): two threads
// read a cold burst of B bytes (one half each, a new place in a 1 GiB buffer every call) and the
// best and median GB/s of 200 calls are printed per burst size, with the buffer on 4 KiB pages
// (argument 0: MADV_NOHUGEPAGE) or on 2 MiB pages (1: MADV_HUGEPAGE). A decode step's matrices are
// such bursts, 1–6 MB each. Self-contained:
//   g++ -O2 -std=c++17 docs/results/issue-23/burst_bench.cc -lpthread -o /tmp/burst && /tmp/burst 0 && /tmp/burst 1
#include <immintrin.h>
#include <sys/mman.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>
#include <algorithm>
__attribute__((target("avx512f"))) float sum(const float* p, size_t n) {
  __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0;
  for (size_t i=0;i<n;i+=64){a0=_mm512_add_ps(a0,_mm512_load_ps(p+i));a1=_mm512_add_ps(a1,_mm512_load_ps(p+i+16));a2=_mm512_add_ps(a2,_mm512_load_ps(p+i+32));a3=_mm512_add_ps(a3,_mm512_load_ps(p+i+48));}
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0,a1),_mm512_add_ps(a2,a3)));
}
int main(int argc,char**argv){
  bool hp = argc>1 && atoi(argv[1]);
  size_t total = size_t(1)<<30;
  void* raw = mmap(nullptr,total+(2<<20),PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  char* buf = (char*)(((uintptr_t)raw + (2<<20)-1) & ~uintptr_t((2<<20)-1));
  if (hp) madvise(buf,total,MADV_HUGEPAGE); else madvise(buf,total,MADV_NOHUGEPAGE);
  memset(buf,1,total);
  std::atomic<long> go{-1}; std::atomic<int> done{0}; volatile float sink=0; size_t burst=0; size_t off=0;
  std::thread helper([&]{ long seen=-1; for(;;){ long g; while((g=go.load())==seen) _mm_pause(); if(g==-2) return; seen=g; sink+=sum((float*)(buf+off+burst/2),burst/8); done.fetch_add(1);} });
  for (size_t b : {size_t(256<<10), size_t(1<<20), size_t(3<<20), size_t(8<<20), size_t(64<<20)}) {
    burst=b; std::vector<double> t; off=0;
    for (int i=0;i<200;i++){
      off = (off + b + 4096*7) % (total - b); off &= ~size_t(255);
      auto s=std::chrono::steady_clock::now();
      done=0; go.fetch_add(1);
      sink+=sum((float*)(buf+off),b/8);
      while(done.load()==0) _mm_pause();
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now()-s).count());
    }
    std::sort(t.begin(),t.end());
    printf("hp=%d burst %6zu KB: best %.1f GB/s, median %.1f GB/s\n",hp,b>>10,b/t[0]/1e9,b/t[t.size()/2]/1e9);
  }
  go=-2; helper.join();
}
