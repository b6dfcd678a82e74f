# The gradient doctor, once per agent variant in the plan.


rule doctor:
    input:
        agent_source,
    output:
        results("doctor/{agent}.csv"),
    log:
        results("logs/doctor/{agent}.log"),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        agent="{agent}",
    shell:
        "OMP_NUM_THREADS=1 python -m bench check {params.agent:q} --out {output:q} > {log:q} 2>&1"
