# Aggregate the runs into tables, compute the statistics, draw the figures.


rule aggregate:
    input:
        run_infos,
    output:
        runs=results("tables/runs.parquet"),
        curves=results("tables/curves.parquet"),
        membership=results("tables/membership.parquet"),
        costs=results("tables/costs.parquet"),
        curve_times=results("tables/curve_times.parquet"),
    log:
        results("logs/aggregate.log"),
    conda:
        CONDA_ENV
    params:
        config=config_json,
        out=output_folder,
    shell:
        "python -m bench.pipeline.aggregate --config-json {params.config:q} --out {params.out:q} > {log:q} 2>&1"


rule analyse:
    input:
        tables=rules.aggregate.output,
        doctor=doctor_tables,
    output:
        analysis=results("analysis/analysis.json"),
        curves=results("analysis/curve_summary.parquet"),
        profiles=results("analysis/profiles.parquet"),
    log:
        results("logs/analyse.log"),
    conda:
        CONDA_ENV
    params:
        config=config_json,
        tables=input_folder,
        out=output_folder,
    shell:
        "python -m bench.paper.analysis --config-json {params.config:q} --tables {params.tables:q}"
        " --doctor {input.doctor:q} --out {params.out:q} > {log:q} 2>&1"


rule figures:
    input:
        rules.analyse.output,
    output:
        directory(results("figures")),
    log:
        results("logs/figures.log"),
    conda:
        CONDA_ENV
    params:
        analysis=input_folder,
    shell:
        "python -m bench.paper.figures --analysis {params.analysis:q} --out {output:q} > {log:q} 2>&1"
