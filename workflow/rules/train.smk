# One training job per (variant, environment, seed): one thread, one process.


rule train:
    output:
        metrics=results("runs/{env}/{agent}/{variant}/seed{seed}/metrics.parquet"),
        info=results("runs/{env}/{agent}/{variant}/seed{seed}/run.json"),
    log:
        results("logs/train/{env}/{agent}/{variant}/seed{seed}.log"),
    benchmark:
        results("benchmarks/train/{env}/{agent}/{variant}/seed{seed}.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        arguments=train_arguments,
        out=output_folder,
    shell:
        "OMP_NUM_THREADS=1 python -m bench run {params.arguments} --quiet --record-failure --out {params.out:q} > {log:q} 2>&1"
