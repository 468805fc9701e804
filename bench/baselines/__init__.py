"""The baselines the benchmarks measure sdcli against, each as plain as the thing it stands for."""
