/**
 * Word lists the company generator draws from. Names are fictional combinations; any likeness to a real
 * company is accidental.
 */

/** One industry of the generated data set: how many companies, and the words their records use. */
export interface IndustryProfile {
  /** Display name, also matched by keyword search ("Batteries"). */
  readonly industry: string;
  /** How many companies of this industry the data set holds. */
  readonly count: number;
  /** Words placed between the brand and the suffix of a name ("Solid Cell"). */
  readonly nameWords: readonly string[];
  /** Tags every company of the industry carries. */
  readonly coreTags: readonly string[];
  /** Tags drawn at random (2–4 per company). */
  readonly tags: readonly string[];
  /** What the industry's companies do, for summaries. */
  readonly activity: string;
}

/** The industries of the data set; counts add up to 240. */
export const INDUSTRIES: readonly IndustryProfile[] = [
  {
    industry: 'Batteries',
    count: 30,
    nameWords: ['Solid Cell', 'Lithium Power', 'Battery', 'Energy Cell', 'Power Cell', 'Volt', 'New Energy Battery'],
    coreTags: [],
    tags: ['lithium', 'solid-state', 'sodium-ion', 'LFP', 'cathode', 'anode', 'electrolyte', 'battery-recycling', 'EV', 'energy-storage', 'fast-charging', 'separator'],
    activity: 'battery cells and materials',
  },
  {
    industry: 'Semiconductors',
    count: 26,
    nameWords: ['Microelectronics', 'Semiconductor', 'Silicon', 'Chip', 'Wafer Tech', 'Integrated Circuit'],
    coreTags: [],
    tags: ['chip-design', 'foundry', 'wafer', 'EDA', 'analog', 'power-semiconductor', 'GaN', 'SiC', 'memory', 'packaging', 'lithography', 'AI-chips'],
    activity: 'chips and semiconductor equipment',
  },
  {
    industry: 'Logistics',
    count: 20,
    nameWords: ['Logistics', 'Freight', 'Supply Chain', 'Express', 'Cold Chain', 'Shipping'],
    coreTags: [],
    tags: ['cold-chain', 'last-mile', 'freight', 'warehousing', 'cross-border', 'trucking', 'ports', 'supply-chain', 'drones'],
    activity: 'freight, warehousing and delivery',
  },
  {
    industry: 'Biotech',
    count: 20,
    nameWords: ['Biotech', 'Biopharma', 'Life Sciences', 'Gene Tech', 'Biologics', 'Bio-Medicine'],
    coreTags: [],
    tags: ['mRNA', 'antibodies', 'gene-therapy', 'CRO', 'vaccines', 'diagnostics', 'cell-therapy', 'oncology'],
    activity: 'drug discovery and biologics',
  },
  {
    industry: 'Solar',
    count: 20,
    nameWords: ['Solar', 'Photovoltaic', 'Solar Energy', 'PV Tech', 'Light Energy'],
    coreTags: ['photovoltaic'],
    tags: ['polysilicon', 'inverter', 'TOPCon', 'perovskite', 'wafer', 'solar-farm', 'energy-storage', 'HJT'],
    activity: 'photovoltaic modules and solar power',
  },
  {
    industry: 'Robotics',
    count: 20,
    nameWords: ['Robotics', 'Intelligent Machines', 'Automation', 'Robot', 'Motion Control'],
    coreTags: [],
    tags: ['industrial-robots', 'servo', 'humanoid', 'AGV', 'machine-vision', 'reducer', 'cobot', 'warehouse-automation'],
    activity: 'robots and factory automation',
  },
  {
    industry: 'Fintech',
    count: 18,
    nameWords: ['Fintech', 'Pay', 'Digital Finance', 'Credit Tech', 'Financial Technology'],
    coreTags: [],
    tags: ['payments', 'lending', 'insurtech', 'blockchain', 'wealth-management', 'risk-control', 'cross-border-payments', 'regtech'],
    activity: 'payments and digital financial services',
  },
  {
    industry: 'E-commerce',
    count: 18,
    nameWords: ['Online Mall', 'Digital Retail', 'E-commerce', 'Trade Online', 'Commerce'],
    coreTags: [],
    tags: ['marketplace', 'live-streaming', 'cross-border', 'social-commerce', 'D2C', 'rural-commerce', 'fresh-food'],
    activity: 'online retail and marketplaces',
  },
  {
    industry: 'Electric Vehicles',
    count: 18,
    nameWords: ['Auto', 'Electric Motors', 'Motors', 'New Energy Vehicle', 'Mobility'],
    coreTags: ['EV'],
    tags: ['battery', 'charging', 'autonomous-driving', 'motor', 'powertrain', 'battery-swap', 'lidar'],
    activity: 'electric vehicles and their drivetrains',
  },
  {
    industry: 'Energy Storage',
    count: 16,
    nameWords: ['Energy Storage', 'Grid Storage', 'Power Storage', 'Storage Tech'],
    coreTags: ['battery', 'energy-storage'],
    tags: ['grid-storage', 'lithium', 'sodium-ion', 'flow-battery', 'BMS', 'virtual-power-plant', 'solid-state'],
    activity: 'battery energy-storage systems for the grid',
  },
  {
    industry: 'AI Software',
    count: 18,
    nameWords: ['AI', 'Intelligence', 'Smart Tech', 'Cognitive', 'Data Intelligence'],
    coreTags: ['AI'],
    tags: ['LLM', 'computer-vision', 'speech', 'SaaS', 'data-labeling', 'MLOps', 'recommendation'],
    activity: 'AI models and enterprise software',
  },
  {
    industry: 'Medical Devices',
    count: 16,
    nameWords: ['Medical', 'Medical Devices', 'MedTech', 'Healthcare Equipment'],
    coreTags: [],
    tags: ['imaging', 'surgical-robots', 'IVD', 'implants', 'wearables', 'ultrasound', 'cardiology'],
    activity: 'medical devices and diagnostics equipment',
  },
];

/** Brand words (pinyin-like) that open a company name. */
export const BRANDS: readonly string[] = [
  'Anhua', 'Baiyun', 'Changjiang', 'Dongfang', 'Guanghe', 'Haixing', 'Hongtu', 'Huarui', 'Jiahe', 'Jinrui',
  'Kaiyuan', 'Lanfeng', 'Longteng', 'Mingde', 'Ningde', 'Qianhai', 'Ruixin', 'Shenghe', 'Tianhe', 'Xinghuo',
  'Xinyuan', 'Yaohua', 'Yongtai', 'Zhicheng', 'Zhongke', 'Zhuoyue', 'Huaxia', 'Pengcheng', 'Jiangnan', 'Lingang',
  'Binhai', 'Xihu', 'Taihu', 'Donghai', 'Qilin', 'Fenghuang', 'Jinghong', 'Boyuan', 'Chenguang', 'Dingsheng',
];

/** Endings of company names. */
export const SUFFIXES: readonly string[] = ['Co.', 'Co., Ltd.', 'Group', 'Technology Co.', 'Holdings', 'Inc.'];

/** Chinese cities where the companies are registered. */
export const CITIES: readonly string[] = [
  'Shanghai', 'Beijing', 'Shenzhen', 'Guangzhou', 'Hangzhou', 'Suzhou', 'Nanjing', 'Wuhan', 'Chengdu', 'Chongqing',
  "Xi'an", 'Hefei', 'Ningde', 'Changsha', 'Tianjin', 'Xiamen', 'Qingdao', 'Dongguan', 'Wuxi', 'Changzhou',
  'Ningbo', 'Zhengzhou', 'Jinan', 'Fuzhou', 'Shenyang', 'Dalian', 'Kunming',
];

/** Family names for legal representatives and shareholders. */
export const SURNAMES: readonly string[] = [
  'Wang', 'Li', 'Zhang', 'Liu', 'Chen', 'Yang', 'Huang', 'Zhao', 'Wu', 'Zhou', 'Xu', 'Sun', 'Ma', 'Zhu', 'Hu', 'Guo', 'He', 'Lin', 'Luo', 'Gao',
];

/** Given names for legal representatives and shareholders. */
export const GIVEN_NAMES: readonly string[] = [
  'Wei', 'Fang', 'Jing', 'Lei', 'Min', 'Jun', 'Yan', 'Tao', 'Hui', 'Qiang', 'Xiaoming', 'Haiyan', 'Jianguo', 'Lina', 'Yong', 'Ping', 'Xin', 'Bo', 'Chao', 'Ying',
];

/** Investor names that appear among shareholders. */
export const INVESTORS: readonly string[] = [
  'Jinsha River Capital', 'Hongshan Growth Fund', 'Qiming Venture Partners LP', 'State Industrial Investment Fund',
  'Yuanjing Equity Partners', 'Pearl River Innovation Fund', 'Huajin Securities Investment', 'Employee Stock Ownership Platform',
  'Gaoxin District Guidance Fund', 'Lianhe Strategic Investors',
];

/** Risk notes a detail record may carry. */
export const RISK_NOTES: readonly string[] = [
  'Customer concentration: top five customers exceed 60% of revenue.',
  'Pending patent infringement suit filed by a competitor.',
  'Administrative penalty for late environmental filing (settled).',
  'Equity of a major shareholder pledged as collateral.',
  'Auditor changed within the last two fiscal years.',
  'Related-party transactions above 10% of revenue.',
  'Operating cash flow negative for two consecutive years.',
  'Key technology licensed from a single foreign supplier.',
  'Court enforcement record for an overdue supplier payment (closed).',
  'Rapid inventory build-up relative to sales.',
];

/** Streets for contact addresses. */
export const STREETS: readonly string[] = [
  'Keji Road', 'Chuangxin Avenue', 'Gaoxin 2nd Road', 'Zhangjiang Road', 'Binjiang Boulevard', 'Huanhu East Road',
  'Jinqiao Road', 'Wenyi West Road', 'Tianfu Avenue', 'Guangming Street',
];
