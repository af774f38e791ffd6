# The settings that switch each of `astraea`'s rules to its alternative, one at a time ('' is the
# default), for bench/policies/astraea-ablations.sh and bench/policies/results.sh (sourced, not run).
ABLATION_SETTINGS=(
  ''
  astraea.kvRule=watermark
  astraea.reclaim=off
  astraea.waitBasis=accumulated
  astraea.swapCost=stall
  astraea.serviceScope=segment
  astraea.uncontendedKv=release
  astraea.ageFrom=lowest
  astraea.memoryWeight=off
  astraea.admission=all
  astraea.admissionOrder=likeliest-to-end
  astraea.briefFirst=false
  astraea.toolWaitRule=mean
  astraea.admissionScope=segment
  astraea.batchWidth=all
)
