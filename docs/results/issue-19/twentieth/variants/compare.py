# Each variant's lines (NAME-*.jsonl here) against the nineteenth session's main ('round') and its
# 'segment' ablation, per cell: paired change over the seeds, ± its standard error. From the
# repository root: python3 docs/results/issue-19/twentieth/variants/compare.py new nothost ...
import json,sys,glob,math
import os
B='docs/results/issue-19/nineteenth/'
V=os.path.dirname(os.path.abspath(__file__))+'/'
def stats(a,b):
    d=[(y/x-1)*100 for x,y in zip(a,b)]
    m=sum(d)/len(d); se=(sum((v-m)**2 for v in d)/(len(d)-1)/len(d))**.5 if len(d)>1 else 0
    return m,se
base={}
for f in glob.glob(B+'ablations-sweep-*.jsonl'):
    for l in open(f):
        r=json.loads(l)
        if r['setting'] in ('default','astraea.admissionScope=segment'):
            base[(r['setting'],r['family'],r['scenario'])]=[s['mean'] for s in r['bySeed']]
cb={}
for f in ['coding-loads-2-3-astraea-thunderagent-fcfs.jsonl','coding-2.5-astraea-thunderagent.jsonl','coding-admission-scope-segment-loads-2.5-3.jsonl']:
    for l in open(B+f):
        r=json.loads(l)
        if r['policy']!='astraea' or r.get('setting') not in (None,'astraea.admissionScope=segment'): continue
        cb[(r.get('setting') or 'default',r['workload_params']['load'],r['workload_params']['seed'])]=r['jct_s']['mean']
cpub={}
for l in open(B+'ablations-cpu-bench-40-seeds.jsonl'):
    r=json.loads(l); cpub[r['setting']]=[s['mean'] for s in r['bySeed']]
for d in sys.argv[1:]:
    print('==',d)
    try:
        cod={}
        for l in open(V+d+'-coding-loads-2-2.5-3.jsonl'):
            r=json.loads(l); cod[(r['workload_params']['load'],r['workload_params']['seed'])]=r['jct_s']['mean']
        for load in (2,2.5,3):
            v=[cod.get((load,s)) for s in (1,2,3)]
            if None in v: continue
            b=[cb.get(('default',load,s)) for s in (1,2,3)]
            sg=[cb.get(('astraea.admissionScope=segment',load,s)) for s in (1,2,3)]
            print(f' coding load {load}: ' + ' '.join(f'{x:.1f}' for x in v) + ' | main ' + ' '.join(f'{x:.1f}' if x else '-' for x in b) + ' | segment ' + ' '.join(f'{x:.1f}' if x else '-' for x in sg))
    except FileNotFoundError: pass
    try:
        c=[s['mean'] for s in json.loads(open(V+d+'-cpu-bench-40-seeds.jsonl').read())['bySeed']]
        m,se=stats(cpub['default'],c); m2,se2=stats(cpub['astraea.admissionScope=segment'],c)
        print(f' cpu 40: {sum(c)/len(c):.3f}  vs main {m:+.2f}±{se:.2f}%  vs segment {m2:+.2f}±{se2:.2f}%')
    except (FileNotFoundError, ValueError): pass
    try:
        rows=[]
        for l in open(V+d+'-sweep-heavy-pressure.jsonl'):
            r=json.loads(l); v=[s['mean'] for s in r['bySeed']]
            k=(r['family'],r['scenario'])
            m,se=stats(base[('default',)+k],v); m2,se2=stats(base[('astraea.admissionScope=segment',)+k],v)
            flag=' <<' if m-2*se>0.0 and m>1 else (' ++' if m+2*se<0 and m<-1 else '')
            print(f' {k[0]:13s}{k[1]:9s} {r["jct"]["mean"]:9.2f} vs main {m:+6.2f}±{se:.2f}%  vs segment {m2:+6.2f}±{se2:.2f}%{flag}')
    except FileNotFoundError: pass
