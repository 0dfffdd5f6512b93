import json, sys, pandas as pd, math
t = pd.read_csv(sys.argv[1])
f = lambda x: "–" if pd.isna(x) else ("not reached" if not math.isfinite(x) else f"{x:.1f}")
g = lambda x: "–" if pd.isna(x) else ("∞" if not math.isfinite(x) else f"{x:.2f}")
lines = ["| trial | control PFS sim (fitted) | published | experimental PFS sim (predicted) | published | HR sim (95% CI) | HR published (95% CI) | HR in published CI | direction | fitted T_d (days) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for r in t.itertuples():
    lines.append(f"| {r.trial} | {f(r.control_sim)} | {f(r.control_pub)} | {f(r.exp_sim)} | {f(r.exp_pub)} | {g(r.hr_sim)} ({g(r.hr_lo)}–{g(r.hr_hi)}) | {g(r.hr_pub)} ({g(r.hr_pub_lo)}–{g(r.hr_pub_hi)}) | {'yes' if r.hr_in_pub_ci else 'no'} | {'ok' if r.direction_ok else 'wrong'} | {r.doubling_days_fitted:.0f} |")
print("\n".join(lines))
