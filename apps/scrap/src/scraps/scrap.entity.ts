import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A page a user saved, with the OpenGraph card read from it. */
@Entity({ name: 'scraps' })
export class Scrap {
  @PrimaryColumn({ type: 'char', length: 36 }) id!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 64 }) userId!: string;
  @Column({ type: 'varchar', length: 2048 }) url!: string;
  @Column({ type: 'varchar', length: 512, nullable: true }) title!: string | null;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'varchar', length: 2048, nullable: true }) image!: string | null;
  @Column({ name: 'og_url', type: 'varchar', length: 2048, nullable: true }) ogUrl!: string | null;
  @Column({ name: 'og_type', type: 'varchar', length: 64, nullable: true }) ogType!: string | null;
  @Column({ name: 'site_name', type: 'varchar', length: 256, nullable: true }) siteName!:
    string | null;
  @CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3 }) createdAt!: Date;
}

export function scrapView(s: Scrap) {
  return {
    id: s.id,
    userId: s.userId,
    url: s.url,
    openGraph: {
      title: s.title ?? undefined,
      description: s.description ?? undefined,
      image: s.image ?? undefined,
      url: s.ogUrl ?? undefined,
      type: s.ogType ?? undefined,
      siteName: s.siteName ?? undefined,
    },
    createdAt: new Date(s.createdAt).toISOString(),
  };
}
