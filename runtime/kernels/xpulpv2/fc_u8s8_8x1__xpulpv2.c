/* TODO stub */
#include "dory/kernels.h"
void dory_fc_u8s8_8x1__xpulpv2(const dory_fc_args *a) { dory_fc_u8s8_8x1__c(a); }
