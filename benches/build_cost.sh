#!/usr/bin/env bash
# Build cost of keops for its users: the size of the `keops!` expansion and
# the seconds a user's release build spends on formulas.
#
#   benches/build_cost.sh            # all measurements (about 3 minutes on 2 cores)
#   benches/build_cost.sh --quick    # expansion sizes only
#
# The user crate lives in target/build-cost/user and depends on this
# checkout by path with default features (CPU only) and cargo's default
# release profile, as a user's crate would. Each timing is a rebuild of the
# user crate alone (keops and its dependencies already built) after the
# formulas' source changed, the median of 3.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

echo "== expansion size (tokens of the keops! expansion, as text)"
cargo run -q --release --example expansion_size
[ "${1:-}" = "--quick" ] && exit 0

user=$root/target/build-cost/user
mkdir -p "$user/src/bin"
cat > "$user/Cargo.toml" <<TOML
[package]
name = "keops-build-cost-user"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
keops = { path = "$root" }

[features]
cuda = ["keops/cuda"]

[workspace]
TOML

gauss() { # $1: a literal that changes between builds, $2: dimension
    echo "keops!(|x: Vi<$2>, y: Vj<$2>, b: Vj<1>, g: Pm<1>| sum_j(exp(-g * sqdist(x, y)) * b * $1))"
}
# A bin with the formulas given as arguments (each called once in f32).
write_bin() { # $1: bin name, $2: literal, $3: dimension, $4: number of formulas
    {
        echo "use keops::prelude::*;"
        echo "fn main() -> Result<()> {"
        echo "    let x = Array2::<f32>::from_elem((10, ${3/_/3}), 0.1);"
        echo "    let b = Array2::<f32>::ones((10, 1));"
        echo "    let mut total = 0.0f32;"
        for k in $(seq 1 "$4"); do
            echo "    let k$k = $(gauss "$2.$k" "$3");"
            echo "    total += k$k.call(&x, &x, &b, &[0.5f32])?.sum();"
        done
        echo "    println!(\"{total}\");"
        echo "    Ok(())"
        echo "}"
    } > "$user/src/bin/$1.rs"
}
# The same with the width a const generic of the calling function (called
# at D = $3), as generic library code writes it.
write_bin_named() { # $1: bin name, $2: literal, $3: dimension
    {
        echo "use keops::prelude::*;"
        echo "fn gauss<const D: usize>(x: &Array2<f32>, b: &Array2<f32>) -> Result<f32> {"
        echo "    Ok($(gauss "$2" D).call(x, x, b, &[0.5f32])?.sum())"
        echo "}"
        echo "fn main() -> Result<()> {"
        echo "    let x = Array2::<f32>::from_elem((10, $3), 0.1);"
        echo "    let b = Array2::<f32>::ones((10, 1));"
        echo "    println!(\"{}\", gauss::<$3>(&x, &b)?);"
        echo "    Ok(())"
        echo "}"
    } > "$user/src/bin/$1.rs"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_build() { # $1: bin, $2: dimension, $3: formulas (0: one, named width), $4: cargo features
    for run in 1 2 3; do
        if [ "$3" = 0 ]; then
            write_bin_named "$1" "$((run + 1))" "$2"
        else
            write_bin "$1" "$((run + 1))" "$2" "$3"
        fi
        local t0 t1
        t0=$(date +%s.%N)
        (cd "$user" && cargo build -q --release --bin "$1" ${4:+--features "$4"})
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
    done | median
}

echo
echo "== user crate: release builds (keops built once first)"
write_bin one 1 3 1
(cd "$user" && cargo build -q --release --bin one)
"$user/target/release/one" > /dev/null
printf "| case | release rebuild (median of 3) |\n|---|---|\n"
printf "| one Gaussian (D = 3), formula edited | %.2f s |\n" "$(time_build one 3 1)"
printf "| ten Gaussians (D = 3), formulas edited | %.2f s |\n" "$(time_build ten 3 10)"
printf "| one Gaussian, D = 784, formula edited | %.2f s |\n" "$(time_build d784 784 1)"
printf "| one Gaussian, width a const generic (called at D = 3), formula edited | %.2f s |\n" "$(time_build named 3 0)"
printf "| one Gaussian, width read from the data (\`Vi<_>\`, called at D = 3), formula edited | %.2f s |\n" "$(time_build data _ 1)"
# With the `cuda` feature (PTX of every stage embedded; cudarc built once first).
write_bin cuda 1 3 1
(cd "$user" && cargo build -q --release --bin cuda --features cuda)
printf "| one Gaussian (D = 3), \`cuda\` feature, formula edited | %.2f s |\n" "$(time_build cuda 3 1 cuda)"
