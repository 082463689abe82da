// RoPE context-extension scalings (encodings/rope_math.h rope_inv_freq and
// friends, encodings/rope.cc rope_inv_freq_table).
//
// Golden tables come from tests/golden/gen_golden.py, numpy re-implementations
// of HF transformers modeling_rope_utils.py, jquesnelle/yarn and the YaRN paper
// §3.2, evaluated in fp64. Both sides evaluate the same fp64 formulas with
// different association (e.g. pow(b, -x) against 1 / b ** x), so entries agree
// to a few ulp: tolerance atol 0 + rtol 1e-12 (style.md §8.1 form).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_util.h"
#include "encodings/rope.h"

namespace pelab {
namespace {

using testing::Near;


// fp64 formula recomputed by gen_golden.py: a few ulp apart, 1e-12 relative.
constexpr double kGoldenRtol = 1e-12;

RopeParams params(RopeScaling scaling, int dim, double base, double factor, int original_length = 0) {
  RopeParams p;
  p.dim = dim;
  p.base = base;
  p.scaling = scaling;
  p.factor = factor;
  p.original_length = original_length;
  return p;
}

template <size_t N>
void expect_table(const std::vector<double>& got, const double (&ref)[N], const char* what) {
  ASSERT_EQ(got.size(), N) << what;
  for (size_t k = 0; k < N; ++k) EXPECT_TRUE(Near(got[k], ref[k], 0, kGoldenRtol)) << what << " k " << k;
}

// gen_golden.py default_inv_freq(base=10000, dim=64)
const double kDefault_b10000_d64[] = {
    1.0, 0.7498942093324559, 0.5623413251903491, 0.4216965034285823,
    0.31622776601683794, 0.23713737056616555, 0.1778279410038923, 0.1333521432163324,
    0.1, 0.07498942093324558, 0.056234132519034905, 0.042169650342858224,
    0.03162277660168379, 0.02371373705661655, 0.01778279410038923, 0.01333521432163324,
    0.01, 0.007498942093324559, 0.005623413251903491, 0.004216965034285823,
    0.00316227766016838, 0.0023713737056616554, 0.001778279410038923, 0.001333521432163324,
    0.001, 0.0007498942093324559, 0.0005623413251903491, 0.0004216965034285823,
    0.00031622776601683794, 0.00023713737056616554, 0.0001778279410038923, 0.0001333521432163324,
};

// gen_golden.py linear_inv_freq(base=10000, dim=64, factor=4)
const double kLinear_b10000_d64_s4[] = {
    0.25, 0.18747355233311397, 0.14058533129758727, 0.10542412585714557,
    0.07905694150420949, 0.059284342641541386, 0.04445698525097307, 0.0333380358040831,
    0.025, 0.018747355233311395, 0.014058533129758726, 0.010542412585714556,
    0.007905694150420948, 0.005928434264154138, 0.004445698525097307, 0.00333380358040831,
    0.0025, 0.0018747355233311397, 0.0014058533129758727, 0.0010542412585714557,
    0.000790569415042095, 0.0005928434264154138, 0.00044456985250973074, 0.000333380358040831,
    0.00025, 0.00018747355233311396, 0.00014058533129758727, 0.00010542412585714557,
    7.905694150420948e-05, 5.9284342641541385e-05, 4.4456985250973074e-05, 3.33380358040831e-05,
};

// gen_golden.py ntk_inv_freq(base=10000, dim=64, alpha=4)
const double kNtk_b10000_d64_s4[] = {
    1.0, 0.7170983281048127, 0.5142300121707174, 0.3687534819889389,
    0.26443250541709623, 0.1896241075311665, 0.1359791304789667, 0.09751040712361318,
    0.06992454992116262, 0.05014277784194723, 0.035957302156991396, 0.025784921259938105,
    0.018490323925815854, 0.013259380373318964, 0.009508279497412793, 0.006818371330747982,
    0.004889442681677164, 0.0035062111723950054, 0.0025142981697068734, 0.0018029990138537894,
    0.0012929275784091781, 0.0009271562048378257, 0.0006648621643812079, 0.00047677154649791134,
    0.0003418920788815981, 0.0002451702381582727, 0.0001758111678843561, 0.00012607389455202627,
    9.040737900092048e-05, 6.483098032989822e-05, 4.6490187603966e-05, 3.3338035804083106e-05,
};

// gen_golden.py dynamic_ntk_inv_freq(10000, 64, max_pos=2048, factor=4, seq_len=1024)
const double kDynamic_b10000_d64_s4_L2048_cur1024[] = {
    1.0, 0.7498942093324559, 0.5623413251903491, 0.4216965034285823,
    0.31622776601683794, 0.23713737056616555, 0.1778279410038923, 0.1333521432163324,
    0.1, 0.07498942093324558, 0.056234132519034905, 0.042169650342858224,
    0.03162277660168379, 0.02371373705661655, 0.01778279410038923, 0.01333521432163324,
    0.01, 0.007498942093324559, 0.005623413251903491, 0.004216965034285823,
    0.00316227766016838, 0.0023713737056616554, 0.001778279410038923, 0.001333521432163324,
    0.001, 0.0007498942093324559, 0.0005623413251903491, 0.0004216965034285823,
    0.00031622776601683794, 0.00023713737056616554, 0.0001778279410038923, 0.0001333521432163324,
};

// gen_golden.py dynamic_ntk_inv_freq(10000, 64, max_pos=2048, factor=4, seq_len=5000)
const double kDynamic_b10000_d64_s4_L2048_cur5000[] = {
    1.0, 0.7050434357346548, 0.4970862462725264, 0.3504673949284247,
    0.24709473623331077, 0.17421252178588173, 0.12282739490791647, 0.08659864850821468,
    0.06105580867420942, 0.04304699711922235, 0.030350002746996323, 0.021398070211298498,
    0.015086568939865264, 0.010636686398810337, 0.007499325923449313, 0.005287350514762667,
    0.0037278117728616667, 0.0026282692201104844, 0.001853043960982338, 0.001306476480818341,
    0.0009211226667426842, 0.0006494314896933295, 0.00045787740876766016, 0.0003228234614228321,
    0.00022760456237730739, 0.00016047110264737931, 0.00011313909754663681, 7.976797805019907e-05,
    5.6239889306118886e-05, 3.9651564781722736e-05, 2.7956075465961037e-05, 1.971024749617846e-05,
};

// gen_golden.py yarn_inv_freq(base=10000, dim=128, factor=4, max_position_embeddings=2048)
const double kYarn_b10000_d128_s4_L2048[] = {
    1.0, 0.8659643233600655, 0.7498942093324559, 0.6493816315762113,
    0.5623413251903491, 0.48696752516586317, 0.4216965034285823, 0.3651741272548377,
    0.31622776601683794, 0.27384196342643613, 0.23713737056616555, 0.2053525026457146,
    0.1778279410038923, 0.1539926526059492, 0.1333521432163324, 0.11547819846894583,
    0.1, 0.08399853936592636, 0.07049005567725085, 0.059093728473435234,
    0.04948603661675072, 0.04139223963909837, 0.03457911328114375, 0.028848756053132175,
    0.024033310217279683, 0.01999046333012984, 0.016599615939631586, 0.013758617677262878,
    0.011380988224249107, 0.0093935518089629, 0.007734424306547279, 0.006351300915792021,
    0.0052, 0.0042432251844643195, 0.0034495133629292973, 0.0027923410157777093,
    0.0022493653007613964, 0.0018017798431136938, 0.0014337681116571798, 0.0011320397944899968,
    0.0008854377448471464, 0.0006846049085660902, 0.0005928434264154138, 0.0005133812566142865,
    0.00044456985250973074, 0.00038498163151487306, 0.000333380358040831, 0.00028869549617236453,
    0.00025, 0.00021649108084001635, 0.00018747355233311396, 0.0001623454078940528,
    0.00014058533129758727, 0.00012174188129146579, 0.00010542412585714557, 9.129353181370943e-05,
    7.905694150420948e-05, 6.846049085660904e-05, 5.9284342641541385e-05, 5.133812566142866e-05,
    4.4456985250973074e-05, 3.84981631514873e-05, 3.33380358040831e-05, 2.8869549617236455e-05,
};

// gen_golden.py yarn_inv_freq(base=500000, dim=64, factor=8, max_position_embeddings=4096, beta_fast=16, beta_slow=2)
const double kYarn_b500000_d64_s8_L4096_bf16_bs2[] = {
    1.0, 0.6636012376960884, 0.44036660267178046, 0.29222782257301516,
    0.19392274474868576, 0.12868737343265052, 0.08539710028576561, 0.056669621445291044,
    0.03760603093086393, 0.024955408670558694, 0.014145375902516091, 0.007784249378632376,
    0.004102123914684624, 0.002016425560716622, 0.0008697666235788267, 0.00026638994211399566,
    0.0001767766952966369, 0.00011730923379467252, 7.784655273932451e-05, 5.165906874818956e-05,
    3.428102195952591e-05, 2.2748928601828186e-05, 1.509621717643313e-05, 1.0017868402809974e-05,
    6.647869871181236e-06, 4.411534674558404e-06, 2.9274998701761677e-06, 1.942692537204043e-06,
    1.2891731721515574e-06, 8.55496912644366e-07, 5.677088100759837e-07, 3.7673226901739645e-07,
};

// gen_golden.py ntk_by_parts_inv_freq(base=10000, dim=64, factor=4, original_length=2048, alpha=1, beta=32)
const double kNtkByParts_b10000_d64_s4_L2048[] = {
    1.0, 0.7498942093324559, 0.5623413251903491, 0.4216965034285823,
    0.31622776601683794, 0.23713737056616555, 0.1778279410038923, 0.1333521432163324,
    0.1, 0.06127860500791243, 0.037635342759940814, 0.023545460656722028,
    0.015026497703256057, 0.009789265815082982, 0.006509200919200539, 0.004413505582170007,
    0.0030466515889972625, 0.002136764604528954, 0.0015191761207281821, 0.0010924507264382102,
    0.0007929214047441991, 0.0005928434264154138, 0.00044456985250973074, 0.000333380358040831,
    0.00025, 0.00018747355233311396, 0.00014058533129758727, 0.00010542412585714557,
    7.905694150420948e-05, 5.9284342641541385e-05, 4.4456985250973074e-05, 3.33380358040831e-05,
};

// gen_golden.py llama3_inv_freq(base=500000, dim=128, factor=8, low_freq_factor=1, high_freq_factor=4, old_context_len=8192)
const double kLlama3_b500000_d128[] = {
    1.0, 0.8146172338565447, 0.6636012376960884, 0.540581004635767,
    0.44036660267178046, 0.35873022375128993, 0.29222782257301516, 0.23805382048035076,
    0.19392274474868576, 0.1579728099090432, 0.12868737343265052, 0.10483095217796996,
    0.08539710028576561, 0.06956594961416032, 0.056669621445291044, 0.04616405026546052,
    0.03760603093086393, 0.030634520893224042, 0.024955408670558694, 0.020329105980970156,
    0.016560440080994446, 0.01349041989022675, 0.010989528534539824, 0.008952259336194401,
    0.00729266473721711, 0.005940730375674967, 0.004839421345719893, 0.003942276030116656,
    0.0032114459947525913, 0.002166570763503359, 0.0013718935677611381, 0.0008567514129196321,
    0.0005248461609929549, 0.00031269375038406517, 0.00017850781276799638, 9.556212353964683e-05,
    7.784655273932451e-05, 6.341514345777614e-05, 5.165906874818956e-05, 4.208236768725526e-05,
    3.428102195952591e-05, 2.7925911282444464e-05, 2.2748928601828186e-05, 1.8531669290821308e-05,
    1.509621717643313e-05, 1.2297638677963614e-05, 1.0017868402809974e-05, 8.160728247435943e-06,
    6.647869871181236e-06, 5.415469365499923e-06, 4.411534674558404e-06, 3.593712173651e-06,
    2.9274998701761677e-06, 2.3847918463583037e-06, 1.942692537204043e-06, 1.5825508208909103e-06,
    1.2891731721515574e-06, 1.0501826834601687e-06, 8.55496912644366e-07, 6.969025285511675e-07,
    5.677088100759837e-07, 4.6246538050008837e-07, 3.7673226901739645e-07, 3.068925988914511e-07,
};

}  // namespace

// No scaling: θ_k = b^(-2k/d) (RoFormer eq. 15; HF default inv_freq).
TEST(RopeScaling, NoScalingIsPlainTheta) {
  const auto t = rope_inv_freq_table(params(RopeScaling::NONE, 64, 10000.0, 1.0), 0);
  expect_table(t, kDefault_b10000_d64, "default");
  for (int k = 0; k < 64 / 2; ++k) EXPECT_TRUE(Near(t[k], std::pow(10000.0, -2.0 * k / 64), 0, 1e-15)) << "k " << k;
  EXPECT_EQ(t[0], 1.0);
}

// PI / HF "linear": θ_k / s.
TEST(RopeScaling, LinearTableMatchesHf) {
  expect_table(rope_inv_freq_table(params(RopeScaling::LINEAR, 64, 10000.0, 4.0), 0), kLinear_b10000_d64_s4, "linear");
}

// NTK-aware base b' = b·s^(d/(d-2)) (jquesnelle/yarn LlamaNTKScaledRotaryEmbedding).
TEST(RopeScaling, NtkBaseAndTable) {
  // s = 2, d = 128: 10000·2^(128/126); gen_golden.py ntk_base(10000, 2, 128) = 20221.261689737912.
  EXPECT_TRUE(Near(rope_ntk_base(10000.0, 2.0, 128), 10000.0 * std::pow(2.0, 128.0 / 126.0), 0, 1e-15));
  EXPECT_TRUE(Near(rope_ntk_base(10000.0, 2.0, 128), 20221.261689737912, 0, kGoldenRtol));
  const auto p = params(RopeScaling::NTK, 64, 10000.0, 4.0);
  EXPECT_TRUE(Near(rope_effective_base(p, 0), 10000.0 * std::pow(4.0, 64.0 / 62.0), 0, 1e-15));
  const auto t = rope_inv_freq_table(p, 0);
  expect_table(t, kNtk_b10000_d64_s4, "ntk");
  // The design goal: highest frequency kept, lowest divided by s.
  EXPECT_EQ(t[0], 1.0);
  EXPECT_TRUE(Near(t[31], std::pow(10000.0, -62.0 / 64) / 4.0, 0, 1e-14));
}

// Dynamic NTK (HF _compute_dynamic_ntk_parameters): plain θ up to L, a grown base past it.
TEST(RopeScaling, DynamicNtkBelowAndAboveOriginalLength) {
  const auto p = params(RopeScaling::DYNAMIC_NTK, 64, 10000.0, 4.0, 2048);
  expect_table(rope_inv_freq_table(p, 1024), kDynamic_b10000_d64_s4_L2048_cur1024, "dynamic L_cur 1024");
  expect_table(rope_inv_freq_table(p, 5000), kDynamic_b10000_d64_s4_L2048_cur5000, "dynamic L_cur 5000");
  EXPECT_EQ(rope_effective_base(p, 2048), 10000.0);  // L_cur = L: s·1 - (s-1) = 1
  EXPECT_TRUE(Near(rope_effective_base(p, 5000), 10000.0 * std::pow(4.0 * 5000 / 2048 - 3.0, 64.0 / 62.0), 0, 1e-15));
}

// YaRN attention scale √(1/t) = 0.1·ln s + 1; an explicit attention_factor wins;
// no other scaling has one.
TEST(RopeScaling, YarnAttentionScale) {
  auto p = params(RopeScaling::YARN, 128, 10000.0, 4.0, 2048);
  // gen_golden.py yarn_inv_freq(10000, 128, factor=4, L=2048): attention_factor = 1.138629436111989
  EXPECT_TRUE(Near(rope_attention_scale(p), 0.1 * std::log(4.0) + 1.0, 0, 1e-15));
  EXPECT_TRUE(Near(rope_attention_scale(p), 1.138629436111989, 0, kGoldenRtol));
  p.factor = 1.0;
  EXPECT_EQ(rope_attention_scale(p), 1.0);  // get_mscale(s <= 1) = 1
  p.factor = 4.0;
  p.attention_factor = 0.7;
  EXPECT_EQ(rope_attention_scale(p), 0.7);
  for (RopeScaling s : {RopeScaling::NONE, RopeScaling::LINEAR, RopeScaling::NTK, RopeScaling::DYNAMIC_NTK,
                        RopeScaling::NTK_BY_PARTS, RopeScaling::LLAMA3}) {
    auto q = params(s, 128, 10000.0, 4.0, 2048);
    EXPECT_EQ(rope_attention_scale(q), 1.0) << to_string(s);
    q.attention_factor = 0.7;
    EXPECT_EQ(rope_attention_scale(q), 1.0) << to_string(s) << " with attention_factor";
  }
}

// find_correction_range(32, 1, d = 128, b = 1e4, L = 2048) = [16, 41] (truncate = true).
TEST(RopeScaling, YarnCorrectionRange) {
  double low, high;
  yarn_correction_range(params(RopeScaling::YARN, 128, 10000.0, 4.0, 2048), &low, &high);
  EXPECT_EQ(low, 16.0);
  EXPECT_EQ(high, 41.0);
  // The unrounded dims: 128·ln(2048/(2π·n))/(2·ln 1e4).
  EXPECT_TRUE(Near(yarn_correction_dim(32, 128, 10000.0, 2048), 128 * std::log(2048 / (64 * kPi)) / (2 * std::log(1e4)), 0, 1e-15));
  // gen_golden.py yarn_inv_freq(500000, 64, factor=8, L=4096, 16, 2): correction range = [9, 15]
  auto p = params(RopeScaling::YARN, 64, 500000.0, 8.0, 4096);
  p.beta_fast = 16.0;
  p.beta_slow = 2.0;
  yarn_correction_range(p, &low, &high);
  EXPECT_EQ(low, 9.0);
  EXPECT_EQ(high, 15.0);
}

TEST(RopeScaling, YarnTablesMatchHf) {
  expect_table(rope_inv_freq_table(params(RopeScaling::YARN, 128, 10000.0, 4.0, 2048), 0), kYarn_b10000_d128_s4_L2048,
               "yarn d128");
  auto p = params(RopeScaling::YARN, 64, 500000.0, 8.0, 4096);
  p.beta_fast = 16.0;
  p.beta_slow = 2.0;
  expect_table(rope_inv_freq_table(p, 0), kYarn_b500000_d64_s8_L4096_bf16_bs2, "yarn d64 b5e5");
  // The table does not depend on L_cur (only dynamic NTK does).
  EXPECT_EQ(rope_inv_freq_table(p, 0), rope_inv_freq_table(p, 100000));
}

// NTK-by-parts, YaRN §3.2: r_k = L/λ_k, γ ramp on [α, β] = [beta_slow, beta_fast],
// θ'_k = (1 - γ(r_k))·θ_k/s + γ(r_k)·θ_k.
TEST(RopeScaling, NtkByPartsFollowsYarnSection32) {
  const int d = 64;
  const double b = 10000.0, s = 4.0;
  const int L = 2048;
  const auto p = params(RopeScaling::NTK_BY_PARTS, d, b, s, L);
  const auto t = rope_inv_freq_table(p, 0);
  expect_table(t, kNtkByParts_b10000_d64_s4_L2048, "ntk-by-parts");
  int kept = 0, divided = 0, ramped = 0;
  for (int k = 0; k < d / 2; ++k) {
    const double theta = std::pow(b, -2.0 * k / d);
    const double r = L / (2 * kPi / theta);
    const double gamma = r < 1.0 ? 0.0 : (r > 32.0 ? 1.0 : (r - 1.0) / (32.0 - 1.0));
    EXPECT_TRUE(Near(t[k], (1 - gamma) * theta / s + gamma * theta, 0, 1e-14)) << "k " << k;
    if (r > 32.0) {
      EXPECT_EQ(t[k], theta) << "k " << k;
      ++kept;
    } else if (r < 1.0) {
      EXPECT_TRUE(Near(t[k], theta / s, 0, 1e-15)) << "k " << k;
      ++divided;
    } else {
      ++ramped;
    }
  }
  // All three regimes occur at these settings.
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(ramped, 0);
  EXPECT_EQ(rope_attention_scale(p), 1.0);
}

// HF _compute_llama3_parameters, Llama 3.1: factor 8, low 1, high 4, L 8192, b 5e5, d 128.
TEST(RopeScaling, Llama3TableMatchesHf) {
  auto p = params(RopeScaling::LLAMA3, 128, 500000.0, 8.0, 8192);
  p.low_freq_factor = 1.0;
  p.high_freq_factor = 4.0;
  const auto t = rope_inv_freq_table(p, 0);
  expect_table(t, kLlama3_b500000_d128, "llama3");
  // High frequencies (λ < L/high) kept, low ones (λ > L/low) divided by 8.
  EXPECT_EQ(t[0], 1.0);
  EXPECT_TRUE(Near(t[63], std::pow(500000.0, -126.0 / 128) / 8.0, 0, 1e-14));
  EXPECT_EQ(rope_attention_scale(p), 1.0);
}

}  // namespace pelab
