# Aggregate the runs into tables, compute the statistics, draw the figures.


rule aggregate:
    input:
        run_infos,
    output:
        runs=paper("tables/runs.parquet"),
        curves=paper("tables/curves.parquet"),
        membership=paper("tables/membership.parquet"),
        costs=paper("tables/costs.parquet"),
        curve_times=paper("tables/curve_times.parquet"),
    log:
        paper("logs/aggregate.log"),
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
        analysis=paper("analysis/analysis.json"),
        curves=paper("analysis/curve_summary.parquet"),
        profiles=paper("analysis/profiles.parquet"),
    log:
        paper("logs/analyse.log"),
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
        directory(paper("figures")),
    log:
        paper("logs/figures.log"),
    conda:
        CONDA_ENV
    params:
        analysis=input_folder,
    shell:
        "python -m bench.paper.figures --analysis {params.analysis:q} --out {output:q} > {log:q} 2>&1"
