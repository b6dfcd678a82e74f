# Training jobs, one thread each. With `seeds_per_job: 1` (the default) one job
# per (variant, environment, seed); otherwise one job per block of seeds, trained
# in one process (a seed batch on the torch backend), one folder per seed inside.


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
        gpu=train_gpus,
    params:
        arguments=train_arguments,
        out=output_folder,
    shell:
        "OMP_NUM_THREADS=1 python -m bench run {params.arguments} --quiet --record-failure --out {params.out:q} > {log:q} 2>&1"


rule train_seeds:
    output:
        directory(results("runs/{env}/{agent}/{variant}/seeds{first}-{last}")),
    log:
        results("logs/train/{env}/{agent}/{variant}/seeds{first}-{last}.log"),
    benchmark:
        results("benchmarks/train/{env}/{agent}/{variant}/seeds{first}-{last}.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=seed_block_mem_mb,
        runtime=240,
        gpu=train_gpus,
    params:
        arguments=seed_block_arguments,
        out=seed_folder_pattern,
    shell:
        "OMP_NUM_THREADS=1 python -m bench run {params.arguments} --quiet --record-failure --out {params.out:q} > {log:q} 2>&1"
