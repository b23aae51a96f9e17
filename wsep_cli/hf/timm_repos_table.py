"""timm model names and the Hub repo of their default pretrained weights: generated, do not edit.

Written by ``python tools/gen_timm_names.py`` from timm 1.0.31. A name in ``DEFAULT_TAGS``
under TAG reads ``timm/NAME.TAG``; ``OTHER_REPOS`` names the repo outright (an alias, a variant
sharing another model's weights); ``NO_TIMM_REPO`` names have no ``timm/`` safetensors repo
(untrained, another organisation's repo, or a URL): timm itself loads those.
"""

from __future__ import annotations

TIMM_VERSION = '1.0.31'

DEFAULT_TAGS: dict[str, str] = {
    '1200ep_in1k': (
        'flexivit_base flexivit_large flexivit_small'
    ),
    'a1_in1k': (
        'resnet18 resnet34 resnet50 seresnet50'
    ),
    'a1h_in1k': (
        'halo2botnet50ts_256 halonet26t halonet50ts lambda_resnet50ts lamhalobotnet50ts_256 '
        'resnet101 resnet152 resnet50_gn resnetaa50 resnetv2_101 resnetv2_50 resnext50_32x4d '
        'sebotnet33ts_256'
    ),
    'a2_in1k': (
        'convnext_atto_ols'
    ),
    'a2h_in1k': (
        'convnext_tiny_hnf'
    ),
    'agc_in1k': (
        'efficientnetv2_rw_m gc_efficientnetv2_rw_t'
    ),
    'ah_in1k': (
        'resnetv2_50d_evos resnetv2_50d_gn seresnext101_32x8d seresnext101d_32x8d'
    ),
    'ap_in1k': (
        'tf_efficientnet_b8'
    ),
    'apple_in1k': (
        'fastvit_ma36 fastvit_s12 fastvit_sa12 fastvit_sa24 fastvit_sa36 fastvit_t12 fastvit_t8 '
        'mobileone_s0 mobileone_s1 mobileone_s2 mobileone_s3 mobileone_s4'
    ),
    'apple_mclip2_dfndr2b': (
        'fastvit_mci3 fastvit_mci4'
    ),
    'apple_pt': (
        'aimv2_1b_patch14_224 aimv2_1b_patch14_336 aimv2_1b_patch14_448 aimv2_3b_patch14_224 '
        'aimv2_3b_patch14_336 aimv2_3b_patch14_448 aimv2_huge_patch14_224 aimv2_huge_patch14_336 '
        'aimv2_huge_patch14_448 aimv2_large_patch14_224 aimv2_large_patch14_336 '
        'aimv2_large_patch14_448'
    ),
    'augreg2_in21k_ft_in1k': (
        'vit_base_patch16_224 vit_base_patch8_224'
    ),
    'augreg_in21k_ft_in1k': (
        'vit_base_patch16_384 vit_base_patch32_224 vit_base_patch32_384 vit_large_patch16_224 '
        'vit_large_patch16_384 vit_large_r50_s32_224 vit_large_r50_s32_384 vit_small_patch16_224 '
        'vit_small_patch16_384 vit_small_patch32_224 vit_small_patch32_384 vit_small_r26_s32_224 '
        'vit_small_r26_s32_384 vit_tiny_patch16_224 vit_tiny_patch16_384 vit_tiny_r_s16_p8_224 '
        'vit_tiny_r_s16_p8_384'
    ),
    'bd_in1k': (
        'nextvit_base nextvit_large nextvit_small'
    ),
    'bt_in1k': (
        'resnet26 resnet26d resnetblur50 resnext50d_32x4d seresnext26d_32x4d seresnext26t_32x4d'
    ),
    'c1_in1k': (
        'botnet26t_256 eca_botnext26ts_256 eca_halonext26ts lambda_resnet26rpt_256 '
        'lambda_resnet26t resnext101_64x4d'
    ),
    'c2_in1k': (
        'cs3edgenet_x'
    ),
    'c2ns_in1k': (
        'cs3darknet_focus_l cs3darknet_focus_m cs3darknet_l cs3darknet_m cs3darknet_x '
        'cs3se_edgenet_x cs3sedarknet_l cs3sedarknet_x darknet53 darknetaa53'
    ),
    'c3_in1k': (
        'resnet10t resnet14t'
    ),
    'c_radio': (
        'naflexvit_base_patch16_radio_v3 naflexvit_giant_patch16_radio_v3 '
        'naflexvit_huge_patch16_radio_v3 naflexvit_huge_patch16_radio_v4 '
        'naflexvit_large_patch16_radio_v3 naflexvit_so400m_patch16_radio_v4 '
        'vit_base_patch16_radio_v3 vit_giant_patch16_radio_v3 vit_huge_patch16_radio_v3 '
        'vit_huge_patch16_radio_v4 vit_large_patch16_radio_v3 vit_so400m_patch16_radio_v4'
    ),
    'ch_in1k': (
        'bat_resnext26ts eca_resnext26ts gcresnext26ts gcresnext50ts regnetz_c16_evos '
        'regnetz_d8_evos seresnext26ts'
    ),
    'clip_ft_in1k': (
        'eva_giant_patch14_224 eva_giant_patch14_336'
    ),
    'clip_laion2b_soup_ft_in12k_in1k_320': (
        'convnext_large_mlp'
    ),
    'clip_laion2b_soup_ft_in1k': (
        'convnext_xxlarge'
    ),
    'cvnets_in1k': (
        'mobilevit_s mobilevit_xs mobilevit_xxs mobilevitv2_050 mobilevitv2_075 mobilevitv2_100 '
        'mobilevitv2_125 mobilevitv2_150 mobilevitv2_175 mobilevitv2_200'
    ),
    'd1_in1k': (
        'convnext_femto convnext_femto_ols convnext_pico convnext_pico_ols'
    ),
    'd1h_in1k': (
        'convnext_nano_ols'
    ),
    'd2_in1k': (
        'convnext_atto'
    ),
    'datacompxl': (
        'vit_base_patch32_clip_256'
    ),
    'deepseek_v4_1_flash': (
        'deepseek_vit_412m deepseek_vit_412m_align deepseek_vit_412m_enc'
    ),
    'dfn5b': (
        'vit_huge_patch14_clip_378'
    ),
    'dino': (
        'vit_small_patch8_224'
    ),
    'dist_300e_in1k': (
        'repvit_m0_9 repvit_m1_0 repvit_m1_1 repvit_m1_5 repvit_m2_3'
    ),
    'dist_in1k': (
        'repvit_m1 repvit_m2 repvit_m3 swiftformer_l1 swiftformer_l3 swiftformer_s swiftformer_xs'
    ),
    'dist_in22k': (
        'tiny_vit_11m_224 tiny_vit_21m_224 tiny_vit_5m_224'
    ),
    'dist_in22k_ft_in1k': (
        'tiny_vit_21m_384 tiny_vit_21m_512'
    ),
    'dm_in1k': (
        'dm_nfnet_f0 dm_nfnet_f1 dm_nfnet_f2 dm_nfnet_f3 dm_nfnet_f4 dm_nfnet_f5 dm_nfnet_f6'
    ),
    'e200_r256_in12k_ft_in1k': (
        'mobilenetv4_hybrid_medium'
    ),
    'e230_r448_in12k_ft_in1k': (
        'mobilenetv4_conv_aa_large'
    ),
    'e2400_r224_in1k': (
        'mobilenetv4_conv_small'
    ),
    'e3000_r224_in1k': (
        'mobilenetv4_conv_small_050'
    ),
    'e300_in1k': (
        'efficientvim_m1 efficientvim_m2 efficientvim_m3 efficientvim_m4'
    ),
    'e300_s576_in1k': (
        'naflexvit_base_patch16_gap naflexvit_base_patch16_par_gap '
        'naflexvit_base_patch16_parfac_gap'
    ),
    'e500_r224_in1k': (
        'mobilenetv4_conv_blur_medium'
    ),
    'e500_r256_in1k': (
        'mobilenetv4_conv_medium'
    ),
    'e600_r384_in1k': (
        'mobilenetv4_conv_large'
    ),
    'eupe_lvd1689m': (
        'vit_tiny_patch16_dinov3_qkvb'
    ),
    'fb': (
        'vit_5b_patch16_sapiens2 vit_base_patch16_sapiens2 vit_giant_patch16_sapiens2 '
        'vit_huge_patch16_sapiens2 vit_large_patch16_sapiens2 vit_pe_core_base_patch16_224 '
        'vit_pe_core_gigantic_patch14_448 vit_pe_core_large_patch14_336 '
        'vit_pe_core_small_patch16_384 vit_pe_core_tiny_patch16_384 '
        'vit_pe_lang_gigantic_patch14_448 vit_pe_lang_large_patch14_448 '
        'vit_pe_spatial_base_patch16_512 vit_pe_spatial_gigantic_patch14_448 '
        'vit_pe_spatial_large_patch14_448 vit_pe_spatial_small_patch16_512 '
        'vit_pe_spatial_tiny_patch16_512'
    ),
    'fb_dist_in1k': (
        'cait_m36_384 cait_m48_448 cait_s24_224 cait_s24_384 cait_s36_384 cait_xs24_384 '
        'cait_xxs24_224 cait_xxs24_384 cait_xxs36_224 cait_xxs36_384 levit_128 levit_128s '
        'levit_192 levit_256 levit_384 levit_conv_128 levit_conv_128s levit_conv_192 '
        'levit_conv_256 levit_conv_384 xcit_large_24_p16_384 xcit_large_24_p8_384 '
        'xcit_medium_24_p16_384 xcit_medium_24_p8_384 xcit_nano_12_p16_384 xcit_nano_12_p8_384 '
        'xcit_small_12_p16_384 xcit_small_12_p8_384 xcit_small_24_p16_384 xcit_small_24_p8_384 '
        'xcit_tiny_12_p16_384 xcit_tiny_12_p8_384 xcit_tiny_24_p16_384 xcit_tiny_24_p8_384'
    ),
    'fb_in1k': (
        'convit_base convit_small convit_tiny deit3_base_patch16_224 deit3_base_patch16_384 '
        'deit3_huge_patch14_224 deit3_large_patch16_224 deit3_large_patch16_384 '
        'deit3_medium_patch16_224 deit3_small_patch16_224 deit3_small_patch16_384 '
        'deit_base_distilled_patch16_224 deit_base_distilled_patch16_384 deit_base_patch16_224 '
        'deit_base_patch16_384 deit_small_distilled_patch16_224 deit_small_patch16_224 '
        'deit_tiny_distilled_patch16_224 deit_tiny_patch16_224 mvitv2_base mvitv2_large '
        'mvitv2_small mvitv2_tiny resmlp_12_224 resmlp_24_224 resmlp_36_224 resmlp_big_24_224 '
        'xcit_large_24_p16_224 xcit_large_24_p8_224 xcit_medium_24_p16_224 xcit_medium_24_p8_224 '
        'xcit_nano_12_p16_224 xcit_nano_12_p8_224 xcit_small_12_p16_224 xcit_small_12_p8_224 '
        'xcit_small_24_p16_224 xcit_small_24_p8_224 xcit_tiny_12_p16_224 xcit_tiny_12_p8_224 '
        'xcit_tiny_24_p16_224 xcit_tiny_24_p8_224'
    ),
    'fb_in22k_ft_in1k': (
        'convnext_base convnext_large convnext_xlarge'
    ),
    'fb_inw21k': (
        'mvitv2_base_cls mvitv2_huge_cls mvitv2_large_cls'
    ),
    'fb_r1024': (
        'sam2_hiera_large'
    ),
    'fb_r896': (
        'sam2_hiera_base_plus sam2_hiera_small sam2_hiera_tiny'
    ),
    'fb_ssl_yfcc100m_ft_in1k': (
        'resnext101_32x4d'
    ),
    'fb_wsl_ig1b_ft_in1k': (
        'resnext101_32x16d resnext101_32x32d'
    ),
    'fcmae_ft_in1k': (
        'convnextv2_atto convnextv2_femto convnextv2_pico'
    ),
    'fcmae_ft_in22k_in1k': (
        'convnextv2_base convnextv2_large convnextv2_nano convnextv2_tiny'
    ),
    'fcmae_ft_in22k_in1k_384': (
        'convnextv2_huge'
    ),
    'ft_in1k': (
        'mixnet_l mixnet_m mixnet_s'
    ),
    'gemma3n': (
        'mobilenetv5_300m'
    ),
    'gemma4_31b_it': (
        'gemma4_vit_570m gemma4_vit_570m_enc'
    ),
    'gemma4_e4b_it': (
        'gemma4_vit_167m gemma4_vit_167m_enc'
    ),
    'gluon_in1k': (
        'hrnet_w18_small hrnet_w18_small_v2 resnest14d resnest26d resnet101c resnet101s '
        'resnet152c resnet152s resnet50c resnet50s senet154 seresnext101_32x4d seresnext101_64x4d'
    ),
    'goog_distilled_in1k': (
        'resnetv2_50x1_bit'
    ),
    'goog_in1k': (
        'nest_base_jx nest_small_jx nest_tiny_jx'
    ),
    'goog_in21k_ft_in1k': (
        'mixer_b16_224 mixer_l16_224 resnetv2_101x1_bit resnetv2_101x3_bit resnetv2_152x4_bit '
        'resnetv2_50x3_bit'
    ),
    'goog_teacher_in21k_ft_in1k': (
        'resnetv2_152x2_bit'
    ),
    'idstcv_in1k': (
        'gernet_l gernet_m gernet_s'
    ),
    'in12k_ft_in1k': (
        'convnext_nano convnext_small convnext_tiny'
    ),
    'in1k': (
        'coat_lite_medium coat_lite_medium_384 coat_lite_mini coat_lite_small coat_lite_tiny '
        'coat_mini coat_small coat_tiny convmixer_1024_20_ks9_p14 convmixer_1536_20 '
        'convmixer_768_32 crossvit_15_240 crossvit_15_dagger_240 crossvit_15_dagger_408 '
        'crossvit_18_240 crossvit_18_dagger_240 crossvit_18_dagger_408 crossvit_9_240 '
        'crossvit_9_dagger_240 crossvit_base_240 crossvit_small_240 crossvit_tiny_240 dla102 '
        'dla102x dla102x2 dla169 dla34 dla46_c dla46x_c dla60 dla60_res2net dla60_res2next dla60x '
        'dla60x_c edgenext_x_small edgenext_xx_small efficientnet_b1_pruned '
        'efficientnet_b2_pruned efficientnet_b3_pruned efficientnet_el_pruned '
        'efficientnet_es_pruned efficientvim_m1_dist efficientvim_m2_dist efficientvim_m3_dist '
        'efficientvim_m4_dist fasternet_l fasternet_m fasternet_s fasternet_t0 fasternet_t1 '
        'fasternet_t2 ghostnet_100 ghostnetv2_100 ghostnetv2_130 ghostnetv2_160 ghostnetv3_100 '
        'iformer_h iformer_l iformer_l2_distilled iformer_l_distilled iformer_m '
        'iformer_m_distilled iformer_s iformer_t lowformer_b0 lowformer_b1 lowformer_b15 '
        'lowformer_b3 lowformer_e1 lowformer_e2 lowformer_e3 mambaout_base mambaout_femto '
        'mambaout_kobe mambaout_small mambaout_tiny maxvit_base_tf_224 maxvit_base_tf_384 '
        'maxvit_base_tf_512 maxvit_large_tf_224 maxvit_large_tf_384 maxvit_large_tf_512 '
        'maxvit_small_tf_224 maxvit_small_tf_384 maxvit_small_tf_512 maxvit_tiny_tf_224 '
        'maxvit_tiny_tf_384 maxvit_tiny_tf_512 pit_b_224 pit_b_distilled_224 pit_s_224 '
        'pit_s_distilled_224 pit_ti_224 pit_ti_distilled_224 pit_xs_224 pit_xs_distilled_224 '
        'pvt_v2_b0 pvt_v2_b1 pvt_v2_b2 pvt_v2_b2_li pvt_v2_b3 pvt_v2_b4 pvt_v2_b5 repghostnet_050 '
        'repghostnet_058 repghostnet_080 repghostnet_100 repghostnet_111 repghostnet_130 '
        'repghostnet_150 repghostnet_200 res2net101_26w_4s res2net101d res2net50_14w_8s '
        'res2net50_26w_4s res2net50_26w_6s res2net50_26w_8s res2net50_48w_2s res2net50d '
        'res2next50 resnest101e resnest200e resnest269e resnest50d resnest50d_1s4x24d '
        'resnest50d_4s2x40d selecsls42b selecsls60 selecsls60b sequencer2d_l sequencer2d_m '
        'sequencer2d_s shvit_s1 shvit_s2 shvit_s3 shvit_s4 starnet_s1 starnet_s2 starnet_s3 '
        'starnet_s4 tf_efficientnet_cc_b0_4e tf_efficientnet_cc_b0_8e tf_efficientnet_cc_b1_8e '
        'tf_efficientnet_el tf_efficientnet_em tf_efficientnet_es tf_efficientnet_lite0 '
        'tf_efficientnet_lite1 tf_efficientnet_lite2 tf_efficientnet_lite3 tf_efficientnet_lite4 '
        'tf_efficientnetv2_b0 tf_efficientnetv2_b1 tf_efficientnetv2_b2 tf_mixnet_l tf_mixnet_m '
        'tf_mixnet_s tf_mobilenetv3_large_075 tf_mobilenetv3_large_100 '
        'tf_mobilenetv3_large_minimal_100 tf_mobilenetv3_small_075 tf_mobilenetv3_small_100 '
        'tf_mobilenetv3_small_minimal_100 tinynet_a tinynet_b tinynet_c tinynet_d tinynet_e '
        'tnt_b_patch16_224 tnt_s_legacy_patch16_224 tnt_s_patch16_224 twins_pcpvt_base '
        'twins_pcpvt_large twins_pcpvt_small twins_svt_base twins_svt_large twins_svt_small '
        'visformer_small visformer_tiny'
    ),
    'in1k_ft_in22k_in1k': (
        'beitv2_base_patch16_224 beitv2_large_patch16_224'
    ),
    'in21k': (
        'maxvit_xlarge_tf_224 vit_base_patch16_224_miil'
    ),
    'in21k_ft_in1k': (
        'maxvit_xlarge_tf_384 maxvit_xlarge_tf_512 tf_efficientnetv2_b3 tf_efficientnetv2_l '
        'tf_efficientnetv2_m tf_efficientnetv2_s tf_efficientnetv2_xl'
    ),
    'in22k_ft_in1k': (
        'beit3_base_patch16_224 beit3_large_patch16_224'
    ),
    'in22k_ft_in22k_in1k': (
        'beit_base_patch16_224 beit_base_patch16_384 beit_large_patch16_224 '
        'beit_large_patch16_384 beit_large_patch16_512 eva_large_patch14_196 '
        'eva_large_patch14_336'
    ),
    'ix_e600_r384_in1k': (
        'mobilenetv4_hybrid_large'
    ),
    'laion2b': (
        'eva02_enormous_patch14_clip_224 vit_giant_patch14_clip_224 vit_gigantic_patch14_clip_224'
    ),
    'laion2b_ft_in12k_in1k': (
        'vit_base_patch16_clip_224 vit_base_patch16_clip_384 vit_base_patch32_clip_224 '
        'vit_base_patch32_clip_384 vit_base_patch32_clip_448 vit_huge_patch14_clip_224 '
        'vit_huge_patch14_clip_336 vit_large_patch14_clip_224 vit_large_patch14_clip_336'
    ),
    'laion400m': (
        'eva_giant_patch14_clip_224'
    ),
    'laion400m_e32': (
        'vit_base_patch16_plus_clip_240'
    ),
    'lamb_in1k': (
        'mnasnet_small mobilenetv2_050 mobilenetv3_small_050 mobilenetv3_small_075 '
        'mobilenetv3_small_100'
    ),
    'lvd142m': (
        'vit_base_patch14_dinov2 vit_base_patch14_reg4_dinov2 vit_giant_patch14_dinov2 '
        'vit_giant_patch14_reg4_dinov2 vit_large_patch14_dinov2 vit_large_patch14_reg4_dinov2 '
        'vit_small_patch14_dinov2 vit_small_patch14_reg4_dinov2'
    ),
    'lvd1689m': (
        'vit_7b_patch16_dinov3 vit_base_patch16_dinov3 vit_base_patch16_dinov3_qkvb '
        'vit_huge_plus_patch16_dinov3 vit_huge_plus_patch16_dinov3_qkvb vit_large_patch16_dinov3 '
        'vit_large_patch16_dinov3_qkvb vit_small_patch16_dinov3 vit_small_patch16_dinov3_qkvb '
        'vit_small_plus_patch16_dinov3 vit_small_plus_patch16_dinov3_qkvb'
    ),
    'm30m_ft_in22k_in1k': (
        'eva_giant_patch14_560'
    ),
    'mae_in1k_ft_in1k': (
        'hiera_base_224 hiera_base_plus_224 hiera_huge_224 hiera_large_224 hiera_small_224 '
        'hiera_tiny_224'
    ),
    'merged2b': (
        'eva02_base_patch16_clip_224 eva02_large_patch14_clip_224 eva02_large_patch14_clip_336'
    ),
    'metaclip2_worldwide': (
        'vit_gigantic_patch14_clip_378'
    ),
    'miil_green_in1k': (
        'hardcorenas_a hardcorenas_b hardcorenas_c hardcorenas_d hardcorenas_e hardcorenas_f'
    ),
    'miil_in1k': (
        'ecaresnet101d ecaresnet101d_pruned ecaresnet50d ecaresnet50d_pruned ecaresnetlight '
        'tresnet_l tresnet_xl'
    ),
    'miil_in21k_ft_in1k': (
        'tresnet_m tresnet_v2_l'
    ),
    'mim_in22k': (
        'eva02_base_patch14_224 eva02_large_patch14_224 eva02_small_patch14_224 '
        'eva02_tiny_patch14_224'
    ),
    'mim_in22k_ft_in1k': (
        'eva02_small_patch14_336 eva02_tiny_patch14_336'
    ),
    'mim_in22k_ft_in22k_in1k': (
        'eva02_base_patch14_448 eva02_large_patch14_448'
    ),
    'ms_aug_in1k': (
        'hrnet_w18'
    ),
    'ms_in1k': (
        'focalnet_base_lrf focalnet_base_srf focalnet_small_lrf focalnet_small_srf '
        'focalnet_tiny_lrf focalnet_tiny_srf hrnet_w30 hrnet_w32 hrnet_w40 hrnet_w44 hrnet_w48 '
        'hrnet_w64 swin_s3_base_224 swin_s3_small_224 swin_s3_tiny_224 '
        'swin_tiny_patch4_window7_224 swinv2_base_window16_256 swinv2_base_window8_256 '
        'swinv2_small_window16_256 swinv2_small_window8_256 swinv2_tiny_window16_256 '
        'swinv2_tiny_window8_256'
    ),
    'ms_in22k': (
        'focalnet_huge_fl3 focalnet_huge_fl4 focalnet_large_fl3 focalnet_large_fl4 '
        'focalnet_xlarge_fl3 focalnet_xlarge_fl4 swinv2_base_window12_192 '
        'swinv2_large_window12_192'
    ),
    'ms_in22k_ft_in1k': (
        'swin_base_patch4_window12_384 swin_base_patch4_window7_224 '
        'swin_large_patch4_window12_384 swin_large_patch4_window7_224 '
        'swin_small_patch4_window7_224 swinv2_base_window12to16_192to256 '
        'swinv2_base_window12to24_192to384 swinv2_large_window12to16_192to256 '
        'swinv2_large_window12to24_192to384'
    ),
    'msft_in1k': (
        'davit_base davit_small davit_tiny'
    ),
    'mx_in1k': (
        'dpn107 dpn131 dpn68 dpn92 dpn98'
    ),
    'nav_in1k': (
        'rexnet_100 rexnet_130 rexnet_150 rexnet_200 rexnet_300'
    ),
    'naver_in1k': (
        'vit_base_patch16_rope_224 vit_base_patch16_rope_ape_224 vit_base_patch16_rope_mixed_224 '
        'vit_base_patch16_rope_mixed_ape_224 vit_large_patch16_rope_224 '
        'vit_large_patch16_rope_ape_224 vit_large_patch16_rope_mixed_224 '
        'vit_large_patch16_rope_mixed_ape_224 vit_small_patch16_rope_224 '
        'vit_small_patch16_rope_ape_224 vit_small_patch16_rope_mixed_224 '
        'vit_small_patch16_rope_mixed_ape_224'
    ),
    'ns_jft_in1k': (
        'tf_efficientnet_b0 tf_efficientnet_b1 tf_efficientnet_b2 tf_efficientnet_b3 '
        'tf_efficientnet_b4 tf_efficientnet_b5 tf_efficientnet_b6 tf_efficientnet_b7'
    ),
    'ns_jft_in1k_475': (
        'tf_efficientnet_l2'
    ),
    'ogvl_dist': (
        'vit_intern300m_patch14_448'
    ),
    'openai': (
        'resnet101_clip resnet101_clip_gap resnet50_clip resnet50_clip_gap resnet50x16_clip '
        'resnet50x16_clip_gap resnet50x4_clip resnet50x4_clip_gap resnet50x64_clip '
        'resnet50x64_clip_gap'
    ),
    'orig_in21k': (
        'vit_base_r50_s16_224 vit_huge_patch14_224 vit_large_patch32_224'
    ),
    'orig_in21k_ft_in1k': (
        'vit_base_r50_s16_384 vit_large_patch32_384'
    ),
    'paddle_in1k': (
        'hgnet_small hgnet_tiny hrnet_w18_ssld hrnet_w48_ssld lcnetv2_large lcnetv2_small'
    ),
    'pali_mix': (
        'vit_so400m_patch14_siglip_gap_448'
    ),
    'pali_pt': (
        'vit_so400m_patch14_siglip_gap_896'
    ),
    'pycls_in1k': (
        'regnetx_002 regnetx_004 regnetx_006 regnetx_040 regnetx_064 regnetx_120 regnety_002 '
        'regnety_006 regnety_008'
    ),
    'qwen3_5_0_8b': (
        'qwen3_vit_88m qwen3_vit_88m_enc qwen3_vit_88m_merge'
    ),
    'qwen3_5_2b': (
        'qwen3_vit_306m qwen3_vit_306m_enc qwen3_vit_306m_merge'
    ),
    'qwen3_8_27b': (
        'qwen3_vit_416m qwen3_vit_416m_enc qwen3_vit_416m_merge'
    ),
    'r160_in1k': (
        'test_byobnet test_convnext test_convnext2 test_convnext3 test_efficientnet '
        'test_efficientnet_evos test_efficientnet_gn test_efficientnet_ln test_nfnet test_resnet '
        'test_vit test_vit2 test_vit3'
    ),
    'r224_in1k': (
        'cpubone_b0_bfrobust cpubone_b1_bfrobust cpubone_b2_bfrobust cpubone_b3 cpubone_nano '
        'cpubone_s0 cpubone_t0 efficientvit_b0 efficientvit_b1 efficientvit_b2 efficientvit_b3 '
        'efficientvit_l1 efficientvit_l2 efficientvit_l3 efficientvit_m0 efficientvit_m1 '
        'efficientvit_m2 efficientvit_m3 efficientvit_m4 efficientvit_m5'
    ),
    'r512_in1k': (
        'csatv2'
    ),
    'ra2_in1k': (
        'eca_nfnet_l0 eca_nfnet_l1 eca_resnet33ts ecaresnet269d ecaresnet26t ecaresnet50t '
        'efficientnet_b3 efficientnet_b4 efficientnet_em efficientnetv2_rw_s efficientnetv2_rw_t '
        'fbnetv3_b fbnetv3_d fbnetv3_g gcresnet33ts gcresnet50t lcnet_050 lcnet_075 lcnet_100 '
        'nf_regnet_b1 nf_resnet50 nfnet_l0 resnet101d resnet152d resnet18d resnet200d resnet26t '
        'resnet32ts resnet33ts resnet34d resnet50d resnet51q resnet61q resnext26ts sehalonet33ts '
        'seresnet152d seresnet33ts'
    ),
    'ra3_in1k': (
        'eca_nfnet_l2 gmixer_24_224 gmlp_s16_224 haloregnetz_b regnetv_040 regnetv_064 '
        'regnety_040 regnety_064 regnety_080 regnetz_040 regnetz_040_h regnetz_b16 regnetz_c16 '
        'regnetz_d32 regnetz_d8 regnetz_e8 xception41p xception65 xception65p'
    ),
    'ra4_e3600_r224_in1k': (
        'convnext_zepto_rms convnext_zepto_rms_ols mobilenet_edgetpu_v2_m mobilenetv1_100 '
        'mobilenetv1_100h mobilenetv1_125 resnetv2_18 resnetv2_18d resnetv2_34 resnetv2_34d'
    ),
    'ra4_e3600_r240_in1k': (
        'efficientnet_b1'
    ),
    'ra4_e3600_r256_in1k': (
        'cs3darknet_focus_s ese_vovnet57b mobilenetv3_large_150d'
    ),
    'ra_in1k': (
        'cspdarknet53 cspresnet50 cspresnext50 densenet121 densenetblur121d dpn68b '
        'efficientnet_b0 efficientnet_b2 efficientnet_el efficientnet_es efficientnet_lite0 '
        'ese_vovnet19b_dw ese_vovnet39b mixnet_xl mobilenetv2_100 mobilenetv2_110d '
        'mobilenetv2_120d mobilenetv2_140 mobilenetv3_large_100 regnety_032 skresnet18 skresnet34 '
        'skresnext50_32x4d'
    ),
    'racm_in1k': (
        'seresnext50_32x4d wide_resnet50_2'
    ),
    'rmsp_in1k': (
        'fbnetc_100 mnasnet_100 mobilenetv3_rw semnasnet_075 semnasnet_100 spnasnet_100'
    ),
    'rvgg_in1k': (
        'repvgg_a0 repvgg_a1 repvgg_a2 repvgg_b0 repvgg_b1 repvgg_b1g4 repvgg_b2 repvgg_b2g4 '
        'repvgg_b3 repvgg_b3g4 repvgg_d2se'
    ),
    'sa1b': (
        'samvit_base_patch16 samvit_huge_patch16 samvit_large_patch16'
    ),
    'sail_in1k': (
        'caformer_b36 caformer_m36 caformer_s18 caformer_s36 convformer_b36 convformer_m36 '
        'convformer_s18 convformer_s36 inception_next_atto inception_next_base '
        'inception_next_small inception_next_tiny poolformer_m36 poolformer_m48 poolformer_s12 '
        'poolformer_s24 poolformer_s36 poolformerv2_m36 poolformerv2_m48 poolformerv2_s12 '
        'poolformerv2_s24 poolformerv2_s36 volo_d1_224 volo_d1_384 volo_d2_224 volo_d2_384 '
        'volo_d3_224 volo_d3_448 volo_d4_224 volo_d4_448 volo_d5_224 volo_d5_448 volo_d5_512'
    ),
    'sbb2_e200_in12k_ft_in1k': (
        'hiera_small_abswin_256 vit_betwixt_patch16_reg4_gap_256 vit_betwixt_patch16_reg4_gap_384 '
        'vit_mediumd_patch16_reg4_gap_256 vit_mediumd_patch16_reg4_gap_384'
    ),
    'sbb_e200_in12k_ft_in1k': (
        'vit_so150m2_patch16_reg1_gap_256 vit_so150m2_patch16_reg1_gap_384 '
        'vit_so150m2_patch16_reg1_gap_448'
    ),
    'sbb_e250_in12k_ft_in1k': (
        'vit_so150m_patch16_reg4_gap_256 vit_so150m_patch16_reg4_gap_384'
    ),
    'sbb_in12k_ft_in1k': (
        'vit_little_patch16_reg1_gap_256 vit_medium_patch16_reg4_gap_256'
    ),
    'sbb_in1k': (
        'vit_base_patch16_rope_reg1_gap_256 vit_betwixt_patch16_reg1_gap_256 '
        'vit_betwixt_patch16_rope_reg4_gap_256 vit_little_patch16_reg4_gap_256 '
        'vit_medium_patch16_reg1_gap_256 vit_medium_patch16_rope_reg1_gap_256 '
        'vit_mediumd_patch16_rope_reg1_gap_256 vit_pwee_patch16_reg1_gap_256 '
        'vit_wee_patch16_reg1_gap_256'
    ),
    'sbb_nadamuon_in1k': (
        'vit_dlittle_patch16_reg1_gap_256 vit_dpwee_patch16_reg1_gap_256 '
        'vit_dwee_patch16_reg1_gap_256'
    ),
    'seer_ft_in1k': (
        'regnety_2560 regnety_640'
    ),
    'snap_dist_in1k': (
        'efficientformer_l1 efficientformer_l3 efficientformer_l7 efficientformerv2_l '
        'efficientformerv2_s0 efficientformerv2_s1 efficientformerv2_s2'
    ),
    'ssld_in1k': (
        'hgnet_base lcnetv2_base'
    ),
    'ssld_stage2_ft_in1k': (
        'hgnetv2_b0 hgnetv2_b1 hgnetv2_b2 hgnetv2_b3 hgnetv2_b4 hgnetv2_b5 hgnetv2_b6'
    ),
    'sw_e150_in12k_ft_in1k': (
        'mambaout_base_plus_rw'
    ),
    'sw_e450_in1k': (
        'mambaout_small_rw'
    ),
    'sw_e500_in1k': (
        'mambaout_base_short_rw mambaout_base_tall_rw mambaout_base_wide_rw'
    ),
    'sw_in12k': (
        'coatnet_3_rw_224 vit_medium_patch16_gap_240'
    ),
    'sw_in12k_ft_in1k': (
        'coatnet_2_rw_224 coatnet_rmlp_1_rw2_224 coatnet_rmlp_2_rw_224 coatnet_rmlp_2_rw_384 '
        'efficientnet_b5 maxvit_rmlp_base_rw_224 maxvit_rmlp_base_rw_384 '
        'maxxvitv2_rmlp_base_rw_224 maxxvitv2_rmlp_base_rw_384 regnety_120 regnety_160 '
        'resnetaa101d resnetaa50d rexnetr_200 rexnetr_300 vit_medium_patch16_gap_256 '
        'vit_medium_patch16_gap_384'
    ),
    'sw_in12k_ft_in1k_288': (
        'seresnextaa101d_32x8d'
    ),
    'sw_in12k_ft_in1k_384': (
        'seresnextaa201d_32x8d'
    ),
    'sw_in1k': (
        'coatnet_0_rw_224 coatnet_1_rw_224 coatnet_bn_0_rw_224 coatnet_nano_rw_224 '
        'coatnet_rmlp_1_rw_224 coatnet_rmlp_nano_rw_224 coatnext_nano_rw_224 edgenext_small_rw '
        'maxvit_nano_rw_256 maxvit_rmlp_nano_rw_256 maxvit_rmlp_pico_rw_256 '
        'maxvit_rmlp_small_rw_224 maxvit_rmlp_tiny_rw_256 maxvit_tiny_rw_224 '
        'maxxvit_rmlp_nano_rw_256 maxxvit_rmlp_small_rw_256 maxxvitv2_nano_rw_256 '
        'swinv2_cr_small_224 swinv2_cr_small_ns_224 swinv2_cr_tiny_ns_224 '
        'vit_base_patch16_rpn_224 vit_relpos_base_patch16_224 vit_relpos_base_patch16_clsgap_224 '
        'vit_relpos_base_patch32_plus_rpn_256 vit_relpos_medium_patch16_224 '
        'vit_relpos_medium_patch16_cls_224 vit_relpos_medium_patch16_rpn_224 '
        'vit_relpos_small_patch16_224 vit_srelpos_medium_patch16_224 '
        'vit_srelpos_small_patch16_224'
    ),
    'sw_r448_e450_in1k': (
        'efficientnet_h_b5 efficientnet_x_b5'
    ),
    'sw_r640_in1k': (
        'csatv2_21m'
    ),
    'swag_ft_in1k': (
        'regnety_1280'
    ),
    'tf_in1k': (
        'inception_resnet_v2 inception_v4 nasnetalarge pnasnet5large resnetrs101 resnetrs152 '
        'resnetrs200 resnetrs270 resnetrs350 resnetrs420 resnetrs50 xception41 xception71'
    ),
    'timm_r256_in1k': (
        'cpubone_b1_dwnorm cpubone_b2pt5_dwnorm'
    ),
    'tinyclip_laion400m': (
        'vit_betwixt_patch32_clip_224 vit_medium_patch32_clip_224'
    ),
    'tinyclip_yfcc15m': (
        'vit_medium_patch16_clip_224 vit_xsmall_patch16_clip_224'
    ),
    'tv2_in1k': (
        'regnetx_004_tv regnetx_008 regnetx_016 regnetx_032 regnetx_080 regnetx_160 regnetx_320 '
        'regnety_004 regnety_008_tv regnety_016 regnety_080_tv regnety_320'
    ),
    'tv_in1k': (
        'densenet161 densenet169 densenet201 inception_v3 resnext101_32x8d vgg11 vgg11_bn vgg13 '
        'vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn wide_resnet101_2'
    ),
    'usi_in1k': (
        'edgenext_base edgenext_small'
    ),
    'v2_webli': (
        'naflexvit_base_patch16_siglip naflexvit_so400m_patch16_siglip '
        'vit_base_patch16_siglip_224 vit_base_patch16_siglip_256 vit_base_patch16_siglip_384 '
        'vit_base_patch16_siglip_512 vit_base_patch16_siglip_gap_224 '
        'vit_base_patch16_siglip_gap_256 vit_base_patch16_siglip_gap_384 '
        'vit_base_patch16_siglip_gap_512 vit_base_patch32_siglip_256 '
        'vit_base_patch32_siglip_gap_256 vit_giantopt_patch16_siglip_256 '
        'vit_giantopt_patch16_siglip_384 vit_giantopt_patch16_siglip_gap_256 '
        'vit_giantopt_patch16_siglip_gap_384 vit_large_patch16_siglip_256 '
        'vit_large_patch16_siglip_384 vit_large_patch16_siglip_512 '
        'vit_large_patch16_siglip_gap_256 vit_large_patch16_siglip_gap_384 '
        'vit_large_patch16_siglip_gap_512 vit_so400m_patch14_siglip_224 '
        'vit_so400m_patch14_siglip_378 vit_so400m_patch14_siglip_gap_224 '
        'vit_so400m_patch14_siglip_gap_378 vit_so400m_patch16_siglip_256 '
        'vit_so400m_patch16_siglip_384 vit_so400m_patch16_siglip_512 '
        'vit_so400m_patch16_siglip_gap_256 vit_so400m_patch16_siglip_gap_384 '
        'vit_so400m_patch16_siglip_gap_512'
    ),
    'webli': (
        'vit_base_patch14_reg1_tipsv2 vit_giant_patch14_reg1_tipsv2 vit_large_patch14_reg1_tipsv2 '
        'vit_so400m_patch14_reg1_tipsv2 vit_so400m_patch14_siglip_384 '
        'vit_so400m_patch14_siglip_gap_384'
    ),
}

OTHER_REPOS: dict[str, str] = {
    'adv_inception_v3': 'timm/inception_v3.tf_adv_in1k',
    'convnext_base_384_in22ft1k': 'timm/convnext_base.fb_in22k_ft_in1k_384',
    'convnext_base_in22ft1k': 'timm/convnext_base.fb_in22k_ft_in1k',
    'convnext_base_in22k': 'timm/convnext_base.fb_in22k',
    'convnext_large_384_in22ft1k': 'timm/convnext_large.fb_in22k_ft_in1k_384',
    'convnext_large_in22ft1k': 'timm/convnext_large.fb_in22k_ft_in1k',
    'convnext_large_in22k': 'timm/convnext_large.fb_in22k',
    'convnext_small_384_in22ft1k': 'timm/convnext_small.fb_in22k_ft_in1k_384',
    'convnext_small_in22ft1k': 'timm/convnext_small.fb_in22k_ft_in1k',
    'convnext_small_in22k': 'timm/convnext_small.fb_in22k',
    'convnext_tiny_384_in22ft1k': 'timm/convnext_tiny.fb_in22k_ft_in1k_384',
    'convnext_tiny_in22ft1k': 'timm/convnext_tiny.fb_in22k_ft_in1k',
    'convnext_tiny_in22k': 'timm/convnext_tiny.fb_in22k',
    'convnext_xlarge_384_in22ft1k': 'timm/convnext_xlarge.fb_in22k_ft_in1k_384',
    'convnext_xlarge_in22ft1k': 'timm/convnext_xlarge.fb_in22k_ft_in1k',
    'convnext_xlarge_in22k': 'timm/convnext_xlarge.fb_in22k',
    'deit3_base_patch16_224_in21ft1k': 'timm/deit3_base_patch16_224.fb_in22k_ft_in1k',
    'deit3_base_patch16_384_in21ft1k': 'timm/deit3_base_patch16_384.fb_in22k_ft_in1k',
    'deit3_huge_patch14_224_in21ft1k': 'timm/deit3_huge_patch14_224.fb_in22k_ft_in1k',
    'deit3_large_patch16_224_in21ft1k': 'timm/deit3_large_patch16_224.fb_in22k_ft_in1k',
    'deit3_large_patch16_384_in21ft1k': 'timm/deit3_large_patch16_384.fb_in22k_ft_in1k',
    'deit3_medium_patch16_224_in21ft1k': 'timm/deit3_medium_patch16_224.fb_in22k_ft_in1k',
    'deit3_small_patch16_224_in21ft1k': 'timm/deit3_small_patch16_224.fb_in22k_ft_in1k',
    'deit3_small_patch16_384_in21ft1k': 'timm/deit3_small_patch16_384.fb_in22k_ft_in1k',
    'efficientnet_b2a': 'timm/efficientnet_b2.ra_in1k',
    'efficientnet_b3a': 'timm/efficientnet_b3.ra2_in1k',
    'ens_adv_inception_resnet_v2': 'timm/inception_resnet_v2.tf_ens_adv_in1k',
    'gluon_inception_v3': 'timm/inception_v3.gluon_in1k',
    'gluon_resnet101_v1b': 'timm/resnet101.gluon_in1k',
    'gluon_resnet101_v1c': 'timm/resnet101c.gluon_in1k',
    'gluon_resnet101_v1d': 'timm/resnet101d.gluon_in1k',
    'gluon_resnet101_v1s': 'timm/resnet101s.gluon_in1k',
    'gluon_resnet152_v1b': 'timm/resnet152.gluon_in1k',
    'gluon_resnet152_v1c': 'timm/resnet152c.gluon_in1k',
    'gluon_resnet152_v1d': 'timm/resnet152d.gluon_in1k',
    'gluon_resnet152_v1s': 'timm/resnet152s.gluon_in1k',
    'gluon_resnet18_v1b': 'timm/resnet18.gluon_in1k',
    'gluon_resnet34_v1b': 'timm/resnet34.gluon_in1k',
    'gluon_resnet50_v1b': 'timm/resnet50.gluon_in1k',
    'gluon_resnet50_v1c': 'timm/resnet50c.gluon_in1k',
    'gluon_resnet50_v1d': 'timm/resnet50d.gluon_in1k',
    'gluon_resnet50_v1s': 'timm/resnet50s.gluon_in1k',
    'gluon_resnext101_32x4d': 'timm/resnext101_32x4d.gluon_in1k',
    'gluon_resnext101_64x4d': 'timm/resnext101_64x4d.gluon_in1k',
    'gluon_resnext50_32x4d': 'timm/resnext50_32x4d.gluon_in1k',
    'gluon_senet154': 'timm/senet154.gluon_in1k',
    'gluon_seresnext101_32x4d': 'timm/seresnext101_32x4d.gluon_in1k',
    'gluon_seresnext101_64x4d': 'timm/seresnext101_64x4d.gluon_in1k',
    'gluon_seresnext50_32x4d': 'timm/seresnext50_32x4d.gluon_in1k',
    'ig_resnext101_32x16d': 'timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k',
    'ig_resnext101_32x32d': 'timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k',
    'ig_resnext101_32x48d': 'timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k',
    'ig_resnext101_32x8d': 'timm/resnext101_32x8d.fb_wsl_ig1b_ft_in1k',
    'jx_nest_base': 'timm/nest_base_jx.goog_in1k',
    'jx_nest_small': 'timm/nest_small_jx.goog_in1k',
    'jx_nest_tiny': 'timm/nest_tiny_jx.goog_in1k',
    'mixer_b16_224_in21k': 'timm/mixer_b16_224.goog_in21k_ft_in1k',
    'mixer_b16_224_miil': 'timm/mixer_b16_224.miil_in21k_ft_in1k',
    'mixer_b16_224_miil_in21k': 'timm/mixer_b16_224.miil_in21k',
    'mixer_l16_224_in21k': 'timm/mixer_l16_224.goog_in21k_ft_in1k',
    'mnasnet_a1': 'timm/semnasnet_100.rmsp_in1k',
    'mnasnet_b1': 'timm/mnasnet_100.rmsp_in1k',
    'mobilenetv3_large_100_miil': 'timm/mobilenetv3_large_100.miil_in21k_ft_in1k',
    'mobilenetv3_large_100_miil_in21k': 'timm/mobilenetv3_large_100.miil_in21k',
    'mobilevitv2_150_384_in22ft1k': 'timm/mobilevitv2_150.cvnets_in22k_ft_in1k_384',
    'mobilevitv2_150_in22ft1k': 'timm/mobilevitv2_150.cvnets_in22k_ft_in1k',
    'mobilevitv2_175_384_in22ft1k': 'timm/mobilevitv2_175.cvnets_in22k_ft_in1k_384',
    'mobilevitv2_175_in22ft1k': 'timm/mobilevitv2_175.cvnets_in22k_ft_in1k',
    'mobilevitv2_200_384_in22ft1k': 'timm/mobilevitv2_200.cvnets_in22k_ft_in1k_384',
    'mobilevitv2_200_in22ft1k': 'timm/mobilevitv2_200.cvnets_in22k_ft_in1k',
    'regnetz_040h': 'timm/regnetz_040_h.ra3_in1k',
    'resmlp_12_224_dino': 'timm/resmlp_12_224.fb_in1k',
    'resmlp_12_distilled_224': 'timm/resmlp_12_224.fb_distilled_in1k',
    'resmlp_24_224_dino': 'timm/resmlp_24_224.fb_in1k',
    'resmlp_24_distilled_224': 'timm/resmlp_24_224.fb_distilled_in1k',
    'resmlp_36_distilled_224': 'timm/resmlp_36_224.fb_distilled_in1k',
    'resmlp_big_24_224_in22ft1k': 'timm/resmlp_big_24_224.fb_in22k_ft_in1k',
    'resmlp_big_24_distilled_224': 'timm/resmlp_big_24_224.fb_distilled_in1k',
    'resnetv2_101x1_bitm': 'timm/resnetv2_101x1_bit.goog_in21k_ft_in1k',
    'resnetv2_101x1_bitm_in21k': 'timm/resnetv2_101x1_bit.goog_in21k',
    'resnetv2_101x3_bitm': 'timm/resnetv2_101x3_bit.goog_in21k_ft_in1k',
    'resnetv2_101x3_bitm_in21k': 'timm/resnetv2_101x3_bit.goog_in21k',
    'resnetv2_152x2_bit_teacher': 'timm/resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k',
    'resnetv2_152x2_bit_teacher_384': 'timm/resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k_384',
    'resnetv2_152x2_bitm': 'timm/resnetv2_152x2_bit.goog_in21k_ft_in1k',
    'resnetv2_152x2_bitm_in21k': 'timm/resnetv2_152x2_bit.goog_in21k',
    'resnetv2_152x4_bitm': 'timm/resnetv2_152x4_bit.goog_in21k_ft_in1k',
    'resnetv2_152x4_bitm_in21k': 'timm/resnetv2_152x4_bit.goog_in21k',
    'resnetv2_50x1_bit_distilled': 'timm/resnetv2_50x1_bit.goog_distilled_in1k',
    'resnetv2_50x1_bitm': 'timm/resnetv2_50x1_bit.goog_in21k_ft_in1k',
    'resnetv2_50x1_bitm_in21k': 'timm/resnetv2_50x1_bit.goog_in21k',
    'resnetv2_50x3_bitm': 'timm/resnetv2_50x3_bit.goog_in21k_ft_in1k',
    'resnetv2_50x3_bitm_in21k': 'timm/resnetv2_50x3_bit.goog_in21k',
    'seresnext26tn_32x4d': 'timm/seresnext26t_32x4d.bt_in1k',
    'ssl_resnet18': 'timm/resnet18.fb_ssl_yfcc100m_ft_in1k',
    'ssl_resnet50': 'timm/resnet50.fb_ssl_yfcc100m_ft_in1k',
    'ssl_resnext101_32x16d': 'timm/resnext101_32x16d.fb_ssl_yfcc100m_ft_in1k',
    'ssl_resnext101_32x4d': 'timm/resnext101_32x4d.fb_ssl_yfcc100m_ft_in1k',
    'ssl_resnext101_32x8d': 'timm/resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k',
    'ssl_resnext50_32x4d': 'timm/resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k',
    'swin_base_patch4_window12_384_in22k': 'timm/swin_base_patch4_window12_384.ms_in22k',
    'swin_base_patch4_window7_224_in22k': 'timm/swin_base_patch4_window7_224.ms_in22k',
    'swin_large_patch4_window12_384_in22k': 'timm/swin_large_patch4_window12_384.ms_in22k',
    'swin_large_patch4_window7_224_in22k': 'timm/swin_large_patch4_window7_224.ms_in22k',
    'swinv2_base_window12_192_22k': 'timm/swinv2_base_window12_192.ms_in22k',
    'swinv2_base_window12to16_192to256_22kft1k': 'timm/swinv2_base_window12to16_192to256.ms_in22k_ft_in1k',
    'swinv2_base_window12to24_192to384_22kft1k': 'timm/swinv2_base_window12to24_192to384.ms_in22k_ft_in1k',
    'swinv2_large_window12_192_22k': 'timm/swinv2_large_window12_192.ms_in22k',
    'swinv2_large_window12to16_192to256_22kft1k': 'timm/swinv2_large_window12to16_192to256.ms_in22k_ft_in1k',
    'swinv2_large_window12to24_192to384_22kft1k': 'timm/swinv2_large_window12to24_192to384.ms_in22k_ft_in1k',
    'swsl_resnet18': 'timm/resnet18.fb_swsl_ig1b_ft_in1k',
    'swsl_resnet50': 'timm/resnet50.fb_swsl_ig1b_ft_in1k',
    'swsl_resnext101_32x16d': 'timm/resnext101_32x16d.fb_swsl_ig1b_ft_in1k',
    'swsl_resnext101_32x4d': 'timm/resnext101_32x4d.fb_swsl_ig1b_ft_in1k',
    'swsl_resnext101_32x8d': 'timm/resnext101_32x8d.fb_swsl_ig1b_ft_in1k',
    'swsl_resnext50_32x4d': 'timm/resnext50_32x4d.fb_swsl_ig1b_ft_in1k',
    'tf_efficientnet_b0_ap': 'timm/tf_efficientnet_b0.ap_in1k',
    'tf_efficientnet_b0_ns': 'timm/tf_efficientnet_b0.ns_jft_in1k',
    'tf_efficientnet_b1_ap': 'timm/tf_efficientnet_b1.ap_in1k',
    'tf_efficientnet_b1_ns': 'timm/tf_efficientnet_b1.ns_jft_in1k',
    'tf_efficientnet_b2_ap': 'timm/tf_efficientnet_b2.ap_in1k',
    'tf_efficientnet_b2_ns': 'timm/tf_efficientnet_b2.ns_jft_in1k',
    'tf_efficientnet_b3_ap': 'timm/tf_efficientnet_b3.ap_in1k',
    'tf_efficientnet_b3_ns': 'timm/tf_efficientnet_b3.ns_jft_in1k',
    'tf_efficientnet_b4_ap': 'timm/tf_efficientnet_b4.ap_in1k',
    'tf_efficientnet_b4_ns': 'timm/tf_efficientnet_b4.ns_jft_in1k',
    'tf_efficientnet_b5_ap': 'timm/tf_efficientnet_b5.ap_in1k',
    'tf_efficientnet_b5_ns': 'timm/tf_efficientnet_b5.ns_jft_in1k',
    'tf_efficientnet_b6_ap': 'timm/tf_efficientnet_b6.ap_in1k',
    'tf_efficientnet_b6_ns': 'timm/tf_efficientnet_b6.ns_jft_in1k',
    'tf_efficientnet_b7_ap': 'timm/tf_efficientnet_b7.ap_in1k',
    'tf_efficientnet_b7_ns': 'timm/tf_efficientnet_b7.ns_jft_in1k',
    'tf_efficientnet_b8_ap': 'timm/tf_efficientnet_b8.ap_in1k',
    'tf_efficientnet_l2_ns': 'timm/tf_efficientnet_l2.ns_jft_in1k',
    'tf_efficientnet_l2_ns_475': 'timm/tf_efficientnet_l2.ns_jft_in1k_475',
    'tf_efficientnetv2_l_in21ft1k': 'timm/tf_efficientnetv2_l.in21k_ft_in1k',
    'tf_efficientnetv2_l_in21k': 'timm/tf_efficientnetv2_l.in21k',
    'tf_efficientnetv2_m_in21ft1k': 'timm/tf_efficientnetv2_m.in21k_ft_in1k',
    'tf_efficientnetv2_m_in21k': 'timm/tf_efficientnetv2_m.in21k',
    'tf_efficientnetv2_s_in21ft1k': 'timm/tf_efficientnetv2_s.in21k_ft_in1k',
    'tf_efficientnetv2_s_in21k': 'timm/tf_efficientnetv2_s.in21k',
    'tf_efficientnetv2_xl_in21ft1k': 'timm/tf_efficientnetv2_xl.in21k_ft_in1k',
    'tf_efficientnetv2_xl_in21k': 'timm/tf_efficientnetv2_xl.in21k',
    'tf_inception_v3': 'timm/inception_v3.tf_in1k',
    'tresnet_l_448': 'timm/tresnet_l.miil_in1k_448',
    'tresnet_m_448': 'timm/tresnet_m.miil_in1k_448',
    'tresnet_m_miil_in21k': 'timm/tresnet_m.miil_in21k',
    'tresnet_xl_448': 'timm/tresnet_xl.miil_in1k_448',
    'tv_densenet121': 'timm/densenet121.tv_in1k',
    'tv_resnet101': 'timm/resnet101.tv_in1k',
    'tv_resnet152': 'timm/resnet152.tv_in1k',
    'tv_resnet34': 'timm/resnet34.tv_in1k',
    'tv_resnet50': 'timm/resnet50.tv_in1k',
    'tv_resnext50_32x4d': 'timm/resnext50_32x4d.tv_in1k',
    'vit_base_patch16_224_dino': 'timm/vit_base_patch16_224.dino',
    'vit_base_patch16_224_in21k': 'timm/vit_base_patch16_224.augreg_in21k',
    'vit_base_patch16_224_miil_in21k': 'timm/vit_base_patch16_224_miil.in21k',
    'vit_base_patch16_clip_quickgelu_224': 'timm/vit_base_patch16_clip_224.metaclip_2pt5b',
    'vit_base_patch32_224_clip_laion2b': 'timm/vit_base_patch32_clip_224.laion2b',
    'vit_base_patch32_224_in21k': 'timm/vit_base_patch32_224.augreg_in21k',
    'vit_base_patch32_clip_quickgelu_224': 'timm/vit_base_patch32_clip_224.laion400m_e32',
    'vit_base_patch8_224_dino': 'timm/vit_base_patch8_224.dino',
    'vit_base_patch8_224_in21k': 'timm/vit_base_patch8_224.augreg_in21k',
    'vit_base_r50_s16_224_in21k': 'timm/vit_base_r50_s16_224.orig_in21k',
    'vit_base_resnet50_224_in21k': 'timm/vit_base_r50_s16_224.orig_in21k',
    'vit_base_resnet50_384': 'timm/vit_base_r50_s16_384.orig_in21k_ft_in1k',
    'vit_giant_patch14_224_clip_laion2b': 'timm/vit_giant_patch14_clip_224.laion2b',
    'vit_gigantic_patch14_clip_quickgelu_224': 'timm/vit_gigantic_patch14_clip_224.metaclip_2pt5b',
    'vit_huge_patch14_224_clip_laion2b': 'timm/vit_huge_patch14_clip_224.laion2b',
    'vit_huge_patch14_224_in21k': 'timm/vit_huge_patch14_224.orig_in21k',
    'vit_huge_patch14_clip_quickgelu_224': 'timm/vit_huge_patch14_clip_224.dfn5b',
    'vit_huge_patch14_clip_quickgelu_378': 'timm/vit_huge_patch14_clip_378.dfn5b',
    'vit_large_patch14_224_clip_laion2b': 'timm/vit_large_patch14_clip_224.laion2b',
    'vit_large_patch14_clip_quickgelu_224': 'timm/vit_large_patch14_clip_224.dfn2b',
    'vit_large_patch14_clip_quickgelu_336': 'timm/vit_large_patch14_clip_336.openai',
    'vit_large_patch16_224_in21k': 'timm/vit_large_patch16_224.augreg_in21k',
    'vit_large_patch32_224_in21k': 'timm/vit_large_patch32_224.orig_in21k',
    'vit_large_r50_s32_224_in21k': 'timm/vit_large_r50_s32_224.augreg_in21k',
    'vit_small_patch16_224_dino': 'timm/vit_small_patch16_224.dino',
    'vit_small_patch16_224_in21k': 'timm/vit_small_patch16_224.augreg_in21k',
    'vit_small_patch32_224_in21k': 'timm/vit_small_patch32_224.augreg_in21k',
    'vit_small_patch8_224_dino': 'timm/vit_small_patch8_224.dino',
    'vit_small_r26_s32_224_in21k': 'timm/vit_small_r26_s32_224.augreg_in21k',
    'vit_tiny_patch16_224_in21k': 'timm/vit_tiny_patch16_224.augreg_in21k',
    'vit_tiny_r_s16_p8_224_in21k': 'timm/vit_tiny_r_s16_p8_224.augreg_in21k',
    'xcit_large_24_p16_224_dist': 'timm/xcit_large_24_p16_224.fb_dist_in1k',
    'xcit_large_24_p16_384_dist': 'timm/xcit_large_24_p16_384.fb_dist_in1k',
    'xcit_large_24_p8_224_dist': 'timm/xcit_large_24_p8_224.fb_dist_in1k',
    'xcit_large_24_p8_384_dist': 'timm/xcit_large_24_p8_384.fb_dist_in1k',
    'xcit_medium_24_p16_224_dist': 'timm/xcit_medium_24_p16_224.fb_dist_in1k',
    'xcit_medium_24_p16_384_dist': 'timm/xcit_medium_24_p16_384.fb_dist_in1k',
    'xcit_medium_24_p8_224_dist': 'timm/xcit_medium_24_p8_224.fb_dist_in1k',
    'xcit_medium_24_p8_384_dist': 'timm/xcit_medium_24_p8_384.fb_dist_in1k',
    'xcit_nano_12_p16_224_dist': 'timm/xcit_nano_12_p16_224.fb_dist_in1k',
    'xcit_nano_12_p16_384_dist': 'timm/xcit_nano_12_p16_384.fb_dist_in1k',
    'xcit_nano_12_p8_224_dist': 'timm/xcit_nano_12_p8_224.fb_dist_in1k',
    'xcit_nano_12_p8_384_dist': 'timm/xcit_nano_12_p8_384.fb_dist_in1k',
    'xcit_small_12_p16_224_dist': 'timm/xcit_small_12_p16_224.fb_dist_in1k',
    'xcit_small_12_p16_384_dist': 'timm/xcit_small_12_p16_384.fb_dist_in1k',
    'xcit_small_12_p8_224_dist': 'timm/xcit_small_12_p8_224.fb_dist_in1k',
    'xcit_small_12_p8_384_dist': 'timm/xcit_small_12_p8_384.fb_dist_in1k',
    'xcit_small_24_p16_224_dist': 'timm/xcit_small_24_p16_224.fb_dist_in1k',
    'xcit_small_24_p16_384_dist': 'timm/xcit_small_24_p16_384.fb_dist_in1k',
    'xcit_small_24_p8_224_dist': 'timm/xcit_small_24_p8_224.fb_dist_in1k',
    'xcit_small_24_p8_384_dist': 'timm/xcit_small_24_p8_384.fb_dist_in1k',
    'xcit_tiny_12_p16_224_dist': 'timm/xcit_tiny_12_p16_224.fb_dist_in1k',
    'xcit_tiny_12_p16_384_dist': 'timm/xcit_tiny_12_p16_384.fb_dist_in1k',
    'xcit_tiny_12_p8_224_dist': 'timm/xcit_tiny_12_p8_224.fb_dist_in1k',
    'xcit_tiny_12_p8_384_dist': 'timm/xcit_tiny_12_p8_384.fb_dist_in1k',
    'xcit_tiny_24_p16_224_dist': 'timm/xcit_tiny_24_p16_224.fb_dist_in1k',
    'xcit_tiny_24_p16_384_dist': 'timm/xcit_tiny_24_p16_384.fb_dist_in1k',
    'xcit_tiny_24_p8_224_dist': 'timm/xcit_tiny_24_p8_224.fb_dist_in1k',
    'xcit_tiny_24_p8_384_dist': 'timm/xcit_tiny_24_p8_384.fb_dist_in1k',
}

NO_TIMM_REPO: str = (
    'beit3_giant_patch14_224 beit3_giant_patch14_336 botnet50ts_256 coatnet_0_224 '
    'coatnet_1_224 coatnet_2_224 coatnet_3_224 coatnet_4_224 coatnet_5_224 '
    'coatnet_nano_cc_224 coatnet_pico_rw_224 coatnet_rmlp_0_rw_224 coatnet_rmlp_3_rw_224 '
    'convnext_atto_rms convnextv2_small cs3darknet_focus_x cs3darknet_s cs3sedarknet_xdw '
    'cspnext_l cspnext_m cspnext_s cspnext_tiny cspnext_x cspresnet50d cspresnet50w darknet17 '
    'darknet21 davit_base_fl davit_giant davit_huge davit_huge_fl davit_large densenet264d '
    'dpn48b eca_nfnet_l3 eca_vovnet39b ecaresnet200d ecaresnext26t_32x4d ecaresnext50t_32x4d '
    'efficientnet_b0_g16_evos efficientnet_b0_g8_gn efficientnet_b0_gn efficientnet_b3_g8_gn '
    'efficientnet_b3_gn efficientnet_b6 efficientnet_b7 efficientnet_b8 efficientnet_blur_b0 '
    'efficientnet_cc_b0_4e efficientnet_cc_b0_8e efficientnet_cc_b1_8e efficientnet_l2 '
    'efficientnet_lite1 efficientnet_lite2 efficientnet_lite3 efficientnet_lite4 '
    'efficientnet_x_b3 efficientnetv2_l efficientnetv2_m efficientnetv2_s efficientnetv2_xl '
    'ese_vovnet19b_slim ese_vovnet19b_slim_dw ese_vovnet39b_evos ese_vovnet99b fastvit_mci0 '
    'fastvit_mci1 fastvit_mci2 gcvit_base gcvit_small gcvit_tiny gcvit_xtiny gcvit_xxtiny '
    'ghostnet_050 ghostnet_130 ghostnetv3_050 ghostnetv3_130 ghostnetv3_160 gmixer_12_224 '
    'gmlp_b16_224 gmlp_ti16_224 halonet_h1 hiera_base_abswin_256 hieradet_small iformer_l2 '
    'lcnet_035 lcnet_150 legacy_senet154 legacy_seresnet101 legacy_seresnet152 '
    'legacy_seresnet18 legacy_seresnet34 legacy_seresnet50 legacy_seresnext101_32x4d '
    'legacy_seresnext26_32x4d legacy_seresnext50_32x4d legacy_xception levit_256d '
    'levit_384_s8 levit_512 levit_512_s8 levit_512d levit_conv_256d levit_conv_384_s8 '
    'levit_conv_512 levit_conv_512_s8 levit_conv_512d lowformer_b2 maxvit_pico_rw_256 '
    'maxvit_rmlp_small_rw_256 maxvit_tiny_pm_256 maxvit_tiny_rw_256 maxxvit_rmlp_tiny_rw_256 '
    'maxxvitv2_rmlp_large_rw_224 mixer_b32_224 mixer_l32_224 mixer_s16_224 mixer_s32_224 '
    'mixnet_xxl mnasnet_050 mnasnet_075 mnasnet_140 mobilenet_edgetpu_100 '
    'mobilenet_edgetpu_v2_l mobilenet_edgetpu_v2_s mobilenet_edgetpu_v2_xs mobilenetv2_035 '
    'mobilenetv2_075 mobilenetv3_large_075 mobilenetv4_conv_aa_medium '
    'mobilenetv4_conv_small_035 mobilenetv4_hybrid_large_075 mobilenetv4_hybrid_medium_075 '
    'mobilenetv5_300m_enc mobilenetv5_base mvitv2_small_cls naflexvit_base_patch16_map '
    'naflexvit_so150m2_patch16_reg1_gap naflexvit_so150m2_patch16_reg1_map nest_base '
    'nest_small nest_tiny nf_ecaresnet101 nf_ecaresnet26 nf_ecaresnet50 nf_regnet_b0 '
    'nf_regnet_b2 nf_regnet_b3 nf_regnet_b4 nf_regnet_b5 nf_resnet101 nf_resnet26 '
    'nf_seresnet101 nf_seresnet26 nf_seresnet50 nfnet_f0 nfnet_f1 nfnet_f2 nfnet_f3 nfnet_f4 '
    'nfnet_f5 nfnet_f6 nfnet_f7 rdnet_base rdnet_large rdnet_small rdnet_tiny regnety_040_sgn '
    'regnetz_005 regnetz_b16_evos resnet200 resnet50_mlp resnet50t resnetaa34d resnetblur101d '
    'resnetblur18 resnetblur50d resnetv2_101d resnetv2_152 resnetv2_152d resnetv2_50d '
    'resnetv2_50d_frn resnetv2_50t rexnetr_100 rexnetr_130 rexnetr_150 '
    'samvit_base_patch16_224 sedarknet21 selecsls42 selecsls84 semnasnet_050 semnasnet_140 '
    'seresnet101 seresnet152 seresnet18 seresnet200d seresnet269d seresnet34 seresnet50t '
    'seresnetaa50d skresnet50 skresnet50d starnet_s050 starnet_s100 starnet_s150 '
    'swinv2_cr_base_224 swinv2_cr_base_384 swinv2_cr_base_ns_224 swinv2_cr_giant_224 '
    'swinv2_cr_giant_384 swinv2_cr_huge_224 swinv2_cr_huge_384 swinv2_cr_large_224 '
    'swinv2_cr_large_384 swinv2_cr_small_384 swinv2_cr_small_ns_256 swinv2_cr_tiny_224 '
    'swinv2_cr_tiny_384 test_coatnet test_mambaout test_maxvit test_vit4 test_vit_relpos '
    'vit_base_mci_224 vit_base_patch16_18x2_224 vit_base_patch16_224_sam '
    'vit_base_patch16_gap_224 vit_base_patch16_lingbot vit_base_patch16_plus_240 '
    'vit_base_patch16_reg4_gap_256 vit_base_patch16_xp_224 vit_base_patch32_224_sam '
    'vit_base_patch32_plus_256 vit_base_r26_s32_224 vit_base_resnet26d_224 '
    'vit_base_resnet50d_224 vit_betwixt_patch16_gap_256 vit_giant_patch14_224 '
    'vit_giant_patch16_gap_224 vit_giant_patch16_lingbot vit_gigantic_patch14_224 '
    'vit_huge_patch14_gap_224 vit_huge_patch14_xp_224 vit_huge_patch16_gap_448 '
    'vit_large_patch14_224 vit_large_patch14_xp_224 vit_large_patch16_lingbot '
    'vit_relpos_base_patch16_cls_224 vit_relpos_base_patch16_plus_240 '
    'vit_relpos_base_patch16_rpn_224 vit_relpos_small_patch16_rpn_224 '
    'vit_small_patch16_18x2_224 vit_small_patch16_36x1_224 vit_small_patch16_lingbot '
    'vit_small_resnet26d_224 vit_small_resnet50d_s16_224 vit_so150m_patch16_reg4_map_256 '
    'vitamin_base_224 vitamin_large2_224 vitamin_large2_256 vitamin_large2_336 '
    'vitamin_large2_384 vitamin_large_224 vitamin_large_256 vitamin_large_336 '
    'vitamin_large_384 vitamin_small_224 vitamin_xlarge_256 vitamin_xlarge_336 '
    'vitamin_xlarge_384 vovnet39a vovnet57a xception'
)
